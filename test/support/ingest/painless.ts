// Evaluator for the tiny subset of Painless the shipped pipelines may use in `if` conditions.
// Anything outside the grammar throws, so a condition this emulator cannot judge can never be
// shipped untested.
//
//   expr    := or
//   or      := and ('||' and)*
//   and     := unary ('&&' unary)*
//   unary   := '!' unary | compare
//   compare := operand (('==' | '!=') operand)?
//   operand := '(' expr ')' | STRING | 'null' | 'true' | 'false' | path
//   path    := 'ctx' (('.' | '?.') IDENT)* (('.' | '?.') METHOD '(' STRING ')')?
//   METHOD  := contains | startsWith | endsWith

type Tok =
  | { k: 'op'; v: '&&' | '||' | '!' | '==' | '!=' | '(' | ')' | '.' | '?.' }
  | { k: 'str'; v: string }
  | { k: 'id'; v: string };

const METHODS = new Set(['contains', 'startsWith', 'endsWith']);

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '==' || two === '!=' || two === '?.') {
      toks.push({ k: 'op', v: two });
      i += 2;
      continue;
    }
    if (c === '!' || c === '(' || c === ')' || c === '.') {
      toks.push({ k: 'op', v: c });
      i += 1;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const n = src[j + 1];
          if (n !== '\\' && n !== "'" && n !== '"')
            throw new Error(`painless subset: unsupported escape \\${n} in ${src}`);
          s += n;
          j += 2;
          continue;
        }
        s += src[j];
        j += 1;
      }
      if (j >= src.length) throw new Error(`painless subset: unterminated string in ${src}`);
      toks.push({ k: 'str', v: s });
      i = j + 1;
      continue;
    }
    const id = /^[A-Za-z_@][A-Za-z0-9_@]*/.exec(src.slice(i));
    if (id) {
      toks.push({ k: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new Error(`painless subset: unexpected character '${c}' in: ${src}`);
  }
  return toks;
}

type Node =
  | { t: 'lit'; v: string | boolean | null }
  | { t: 'path'; steps: Array<{ name: string; safe: boolean }>; call?: { name: string; arg: string; safe: boolean } }
  | { t: 'not'; e: Node }
  | { t: 'and' | 'or'; l: Node; r: Node }
  | { t: 'eq' | 'ne'; l: Node; r: Node };

class Parser {
  private pos = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  parse(): Node {
    const e = this.or();
    if (this.pos !== this.toks.length) this.fail('trailing tokens');
    return e;
  }

  private fail(msg: string): never {
    throw new Error(`painless subset: ${msg} in: ${this.src}`);
  }

  private peekOp(v: string): boolean {
    const t = this.toks[this.pos];
    return t !== undefined && t.k === 'op' && t.v === v;
  }

  private or(): Node {
    let l = this.and();
    while (this.peekOp('||')) {
      this.pos += 1;
      l = { t: 'or', l, r: this.and() };
    }
    return l;
  }

  private and(): Node {
    let l = this.unary();
    while (this.peekOp('&&')) {
      this.pos += 1;
      l = { t: 'and', l, r: this.unary() };
    }
    return l;
  }

  private unary(): Node {
    if (this.peekOp('!')) {
      this.pos += 1;
      return { t: 'not', e: this.unary() };
    }
    const l = this.operand();
    if (this.peekOp('==') || this.peekOp('!=')) {
      const op = (this.toks[this.pos] as { v: string }).v;
      this.pos += 1;
      const r = this.operand();
      return { t: op === '==' ? 'eq' : 'ne', l, r };
    }
    return l;
  }

  private operand(): Node {
    const t = this.toks[this.pos];
    if (!t) this.fail('unexpected end');
    if (t.k === 'op' && t.v === '(') {
      this.pos += 1;
      const e = this.or();
      if (!this.peekOp(')')) this.fail('missing )');
      this.pos += 1;
      return e;
    }
    if (t.k === 'str') {
      this.pos += 1;
      return { t: 'lit', v: t.v };
    }
    if (t.k === 'id') {
      if (t.v === 'null' || t.v === 'true' || t.v === 'false') {
        this.pos += 1;
        return { t: 'lit', v: t.v === 'null' ? null : t.v === 'true' };
      }
      if (t.v === 'ctx') return this.path();
    }
    return this.fail(`unsupported token ${JSON.stringify(t)}`);
  }

  private path(): Node {
    this.pos += 1; // ctx
    const steps: Array<{ name: string; safe: boolean }> = [];
    for (;;) {
      const t = this.toks[this.pos];
      if (t?.k !== 'op' || (t.v !== '.' && t.v !== '?.')) break;
      const safe = t.v === '?.';
      const id = this.toks[this.pos + 1];
      if (id?.k !== 'id') this.fail('expected identifier after . or ?.');
      const after = this.toks[this.pos + 2];
      if (after && after.k === 'op' && after.v === '(') {
        if (!METHODS.has(id.v)) this.fail(`method ${id.v}() is outside the supported subset`);
        const arg = this.toks[this.pos + 3];
        const close = this.toks[this.pos + 4];
        if (arg?.k !== 'str' || !close || close.k !== 'op' || close.v !== ')') {
          this.fail(`${id.v}() takes exactly one string literal`);
        }
        this.pos += 5;
        const next = this.toks[this.pos];
        if (next && next.k === 'op' && (next.v === '.' || next.v === '?.')) this.fail('chaining after a method call');
        return { t: 'path', steps, call: { name: id.v, arg: arg.v, safe } };
      }
      steps.push({ name: id.v, safe });
      this.pos += 2;
    }
    if (steps.length === 0) this.fail('bare ctx');
    return { t: 'path', steps };
  }
}

const compiled = new Map<string, Node>();

export function parseCondition(src: string): void {
  compile(src);
}

function compile(src: string): Node {
  let n = compiled.get(src);
  if (!n) {
    n = new Parser(tokenize(src), src).parse();
    compiled.set(src, n);
  }
  return n;
}

type Val = string | boolean | number | null | object;

function evalNode(n: Node, ctx: Record<string, unknown>, src: string): Val {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'path': {
      let cur: unknown = ctx;
      for (const step of n.steps) {
        if (cur === null || cur === undefined) {
          if (step.safe) return null;
          throw new Error(`NullPointerException evaluating [${src}] at .${step.name}`);
        }
        if (typeof cur !== 'object' || Array.isArray(cur)) {
          throw new Error(`painless: cannot access .${step.name} on a non-map value in [${src}]`);
        }
        const v = (cur as Record<string, unknown>)[step.name];
        cur = v === undefined ? null : v;
      }
      if (n.call) {
        if (cur === null) {
          if (n.call.safe) return null;
          throw new Error(`NullPointerException calling ${n.call.name}() in [${src}]`);
        }
        if (typeof cur !== 'string') throw new Error(`painless: ${n.call.name}() on a non-string in [${src}]`);
        if (n.call.name === 'contains') return cur.includes(n.call.arg);
        if (n.call.name === 'startsWith') return cur.startsWith(n.call.arg);
        return cur.endsWith(n.call.arg);
      }
      return cur as Val;
    }
    case 'not':
      return !asBool(evalNode(n.e, ctx, src), src);
    case 'and':
      return asBool(evalNode(n.l, ctx, src), src) && asBool(evalNode(n.r, ctx, src), src);
    case 'or':
      return asBool(evalNode(n.l, ctx, src), src) || asBool(evalNode(n.r, ctx, src), src);
    case 'eq':
    case 'ne': {
      const l = evalNode(n.l, ctx, src);
      const r = evalNode(n.r, ctx, src);
      if ((l !== null && typeof l === 'object') || (r !== null && typeof r === 'object')) {
        throw new Error(`painless subset: == on maps/lists is not emulated in [${src}]`);
      }
      const eq = l === r;
      return n.t === 'eq' ? eq : !eq;
    }
  }
}

function asBool(v: Val, src: string): boolean {
  // Painless refuses to unbox null (or a non-boolean) into a boolean operand.
  if (typeof v !== 'boolean')
    throw new Error(`painless: cannot cast ${v === null ? 'null' : typeof v} to boolean in [${src}]`);
  return v;
}

export function evaluateCondition(src: string, ctx: Record<string, unknown>): boolean {
  const v = evalNode(compile(src), ctx, src);
  if (typeof v !== 'boolean') {
    // ES: "condition [...] returned non-boolean value"
    throw new Error(`condition [${src}] returned non-boolean value: ${JSON.stringify(v)}`);
  }
  return v;
}
