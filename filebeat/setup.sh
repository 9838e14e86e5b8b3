#!/usr/bin/env bash
# Installs what filebeat.yml expects to exist in Elasticsearch: the ILM policy, the three
# ingest pipelines and the composable index template. Idempotent (every call is a PUT).
#
#   ES_URL=https://es.example:9200 ES_USERNAME=elastic ES_PASSWORD=... ./setup.sh
#   ES_URL=... ES_API_KEY=<base64 id:key> ES_CACERT=/path/ca.crt ./setup.sh
#
# Needs a user with manage_ingest_pipelines, manage_ilm and manage_index_templates.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ES_URL=${ES_URL:-https://localhost:9200}
ES_URL=${ES_URL%/}

curl_args=(--silent --show-error -H 'Content-Type: application/json')
if [[ -n "${ES_API_KEY:-}" ]]; then
  curl_args+=(-H "Authorization: ApiKey ${ES_API_KEY}")
elif [[ -n "${ES_USERNAME:-}" ]]; then
  curl_args+=(--user "${ES_USERNAME}:${ES_PASSWORD:-}")
fi
if [[ -n "${ES_CACERT:-}" ]]; then
  curl_args+=(--cacert "${ES_CACERT}")
fi

put() {
  local path=$1 file=$2 body status
  body=$(mktemp)
  # --fail-with-body needs curl >= 7.76 (Debian 11 ships 7.74): read the status instead.
  status=$(curl "${curl_args[@]}" -o "$body" -w '%{http_code}' -X PUT "${ES_URL}${path}" --data-binary "@${file}")
  if [[ "$status" != 2* ]]; then
    echo "PUT ${path} failed with HTTP ${status}:" >&2
    cat "$body" >&2
    echo >&2
    rm -f "$body"
    return 1
  fi
  rm -f "$body"
  echo "PUT ${path}: ${status}"
}

put /_ilm/policy/odoo-ha-watch-logs "${here}/ilm-policy.json"
put /_ingest/pipeline/odoo-ha-watch-odoo "${here}/ingest/odoo.json"
put /_ingest/pipeline/odoo-ha-watch-patroni "${here}/ingest/patroni.json"
put /_ingest/pipeline/odoo-ha-watch-postgresql "${here}/ingest/postgresql.json"
put /_index_template/odoo-ha-watch-logs "${here}/index-template.json"

# Existing data streams keep their current backing index until it rolls over; to apply a
# changed template at once: POST /logs-odoo.app-default/_rollover (and the other two).
