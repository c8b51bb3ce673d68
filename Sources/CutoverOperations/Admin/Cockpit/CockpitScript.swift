/// The cockpit's script: polls the admin API and fills the views. Every value from a webhook is
/// set as text (never parsed as HTML); changes carry `X-Cutover-Cockpit: 1` (see `AdminSession`).
enum CockpitScript {
    static let text = #"""
        "use strict";
        const POLL_MS = 1500;
        const CHANGE_HEADERS = { "X-Cutover-Cockpit": "1", "Content-Type": "application/x-www-form-urlencoded" };

        function el(tag, attributes, ...children) {
          const node = document.createElement(tag);
          for (const [name, value] of Object.entries(attributes || {})) {
            if (value === null || value === undefined) continue;
            if (name === "class") node.className = value; else node.setAttribute(name, value);
          }
          for (const child of children) {
            if (child === null || child === undefined) continue;
            node.append(child instanceof Node ? child : String(child));
          }
          return node;
        }

        function cell(value, className) { return el("td", { class: className }, value === null || value === undefined ? "—" : value); }

        function fill(tbody, rows, makeRow, columns, emptyText) {
          const made = rows.map(makeRow);
          if (made.length === 0) made.push(el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, emptyText)));
          tbody.replaceChildren(...made);
        }

        function rate(value) { return value === null || value === undefined ? "—" : value.toFixed(2); }
        // Seconds since 1970, or an RFC 3339 text (the comparison's `received_at`).
        function time(value) {
          if (!value) return "—";
          const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
          return isNaN(date.getTime()) ? String(value) : date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
        }
        function age(seconds) {
          if (seconds === null || seconds === undefined) return "—";
          if (seconds < 90) return Math.round(seconds) + " s";
          if (seconds < 5400) return Math.round(seconds / 60) + " min";
          return (seconds / 3600).toFixed(1) + " h";
        }
        function pretty(text) {
          try { return JSON.stringify(JSON.parse(text), null, 2); } catch (error) { return text; }
        }

        async function request(path, options) {
          const response = await fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {}));
          if (response.status === 401) { window.location.assign("/admin/cockpit"); throw new Error("the session ended: log in again"); }
          let body = {};
          try { body = await response.json(); } catch (error) { body = {}; }
          return { status: response.status, ok: response.ok, body: body };
        }

        async function getJSON(path) {
          const answer = await request(path);
          if (!answer.ok) throw new Error(path + ": HTTP " + answer.status + (answer.body.error ? ": " + answer.body.error : ""));
          return answer.body;
        }

        function inspectButton(eventID) {
          if (!eventID) return "—";
          const button = el("button", { type: "button", class: "inspect", "data-event-id": eventID }, "Inspect");
          button.addEventListener("click", () => showEvent(eventID));
          return el("span", {}, el("code", {}, eventID), " ", button);
        }

        // Numbers

        async function refreshNumbers() {
          const data = await getJSON("/admin/numbers");
          const tbody = document.querySelector("#numbers tbody");
          fill(tbody, data.numbers, (number) => el("tr", { "data-number": number.phone_number_id || number.routes.join(",") },
            cell(number.phone_number_id, "phone-number-id"),
            cell(number.display_phone_number),
            cell(number.routes.join(", ") + (number.apis.length ? " (" + number.apis.join(", ") + ")" : ""), "arrives-from"),
            cell(number.events_total, "number events-total"),
            cell(rate(number.events_per_second_10s), "number rate-10s"),
            cell(rate(number.events_per_second_60s), "number rate-60s"),
            el("td", { class: "types" }, ...number.types.map((type) =>
              el("div", { "data-type": type.type }, el("code", {}, type.type), ": " + type.total + " (" + rate(type.per_second_10s) + "/s)"))),
            el("td", {}, number.last_event_at ? time(number.last_event_at) + ", " + (number.last_event_type || "") + " " : "—",
              number.last_event_id ? inspectButton(number.last_event_id) : null),
          ), 8, "No business number has sent anything yet.");
          document.querySelector("#numbers .spool-totals").textContent =
            "The spool holds " + data.spool.events + " events from " + data.spool.requests + " requests (" + data.spool.quarantined + " quarantined).";
        }

        // Destinations

        async function refreshDestinations() {
          const data = await getJSON("/admin/destinations");
          const tbody = document.querySelector("#destinations tbody");
          fill(tbody, data.destinations, (d) => {
            const r = d.responses;
            const latency = d.latency_ms.samples
              ? "p50 " + d.latency_ms.p50.toFixed(1) + " ms, p99 " + d.latency_ms.p99.toFixed(1) + " ms (" + d.latency_ms.samples + ")" : "—";
            return el("tr", { "data-destination": d.name },
              el("td", {}, el("strong", {}, d.name), el("br"), el("code", {}, d.url)),
              cell(d.role, "role"), cell(d.format, "format"),
              cell(d.delivered, "number delivered"), cell(d.queue_depth, "number queue-depth"), cell(d.inflight, "number inflight"),
              cell(age(d.oldest_pending_age_seconds), "number oldest-pending"),
              cell(d.dead, "number dead" + (d.dead > 0 ? " bad" : "")), cell(d.since_start.retries, "number retries"),
              cell("2xx " + r["2xx"] + " · 4xx " + r["4xx"] + " · 5xx " + r["5xx"] + " · errors " + r.error, "responses"),
              cell(latency, "latency"),
              cell(d.circuit.replace("_", "-"), "circuit" + (d.circuit === "closed" ? "" : " bad")));
          }, 12, "No destination is configured.");
        }

        // Primary vs shadow

        function side(response) {
          if (!response) return "—";
          const parts = [response.state || ""];
          if (response.status !== null && response.status !== undefined) parts.push("HTTP " + response.status);
          // A refusal's error starts with its status already ("HTTP 500: ..."): not said twice.
          if (response.error) parts.push(response.error.replace(/^HTTP \d+: /, ""));
          if (response.latency_ms !== null && response.latency_ms !== undefined) parts.push(Math.round(response.latency_ms) + " ms");
          return parts.filter((part) => part).join(", ");
        }

        async function refreshComparison() {
          const note = document.querySelector("#comparison .comparison-note");
          const answer = await request("/admin/comparison");
          if (answer.status === 404) {
            note.textContent = "This cutover has no comparison endpoint.";
            return;
          }
          if (!answer.ok) throw new Error("/admin/comparison: HTTP " + answer.status + (answer.body.error ? ": " + answer.body.error : ""));
          const data = answer.body;
          note.textContent = data.pairs.length ? "" : "Comparing needs a primary and a shadow destination for the same events.";
          fill(document.querySelector("#comparison .pairs tbody"), data.pairs, (pair) =>
            el("tr", { "data-pair": pair.primary + "|" + pair.shadow },
              cell(pair.primary), cell(pair.shadow), cell(pair.events, "number events"), cell(pair.compared, "number compared"),
              cell(pair.primary_accepted, "number primary-accepted"), cell(pair.shadow_accepted, "number shadow-accepted"),
              cell(pair.agree, "number agree"), cell(pair.disagree, "number disagree" + (pair.disagree > 0 ? " bad" : "")),
              cell(pair.pending, "number pending")), 9, "No primary and shadow pair.");
          fill(document.querySelector("#comparison .disagreements tbody"), data.disagreements, (d) =>
            el("tr", { "data-event-id": d.event_id },
              el("td", {}, inspectButton(d.event_id)), cell(d.type), cell(time(d.received_at)),
              cell(side(d.primary), "primary-response"),
              el("td", {}, el("pre", { class: "primary-body" }, d.primary ? d.primary.body_prefix || "" : "")),
              cell(side(d.shadow), "shadow-response"),
              el("td", {}, el("pre", { class: "shadow-body" }, d.shadow ? d.shadow.body_prefix || "" : ""))), 7, "No disagreement.");
        }

        // Dead letters

        let pendingRetry = null;

        function askRetry(delivery) {
          pendingRetry = delivery;
          document.getElementById("retry-question").textContent =
            "Retry dead letter " + delivery.id + " (event " + delivery.event_id + ") to " + delivery.destination + "?";
          document.getElementById("retry-confirm").hidden = false;
          document.getElementById("retry-yes").focus();
        }

        async function confirmRetry() {
          const delivery = pendingRetry;
          pendingRetry = null;
          document.getElementById("retry-confirm").hidden = true;
          if (!delivery) return;
          const result = document.getElementById("retry-result");
          try {
            const answer = await request("/admin/retry", { method: "POST", headers: CHANGE_HEADERS, body: "id=" + encodeURIComponent(delivery.id) });
            result.textContent = answer.ok
              ? "Revived " + answer.body.revived + " dead letter (delivery " + delivery.id + "); it goes out again now."
              : "Retry refused: HTTP " + answer.status + (answer.body.error ? ": " + answer.body.error : "");
          } catch (error) {
            result.textContent = "Retry failed: " + error.message;
          }
          refresh();
        }

        async function refreshDeadLetters() {
          const data = await getJSON("/admin/deliveries?state=dead&limit=100");
          fill(document.querySelector("#dead-letters tbody"), data.deliveries, (d) => {
            const retry = el("button", { type: "button", class: "retry" }, "Retry…");
            retry.addEventListener("click", () => askRetry(d));
            return el("tr", { "data-delivery-id": String(d.id) },
              cell(d.id, "number"), cell(d.destination, "destination"), el("td", {}, inspectButton(d.event_id)), cell(d.type),
              cell(d.attempts, "number"), cell(d.last_status, "number last-status"), el("td", {}, el("pre", { class: "reason" }, d.last_error || "")),
              cell(age(d.age_seconds), "number"), el("td", {}, retry));
          }, 9, "No dead letter.");
        }

        // One event side by side

        function headerList(headers, signatureNames, emptyText) {
          if (!headers || headers.length === 0) return el("p", { class: "note" }, emptyText || "None.");
          const list = el("pre", { class: "headers" });
          for (const header of headers || []) {
            const line = el("span", { class: signatureNames.has(header.name.toLowerCase()) ? "signature" : null }, header.name + ": " + header.value);
            list.append(line, "\n");
          }
          return list;
        }

        const SIGNATURE_NAMES = new Set(["x-hub-signature-256", "webhook-id", "webhook-timestamp", "webhook-signature"]);

        function column(title, side, ...content) {
          return el("div", { class: "column", "data-side": side }, el("h3", {}, title), ...content);
        }

        async function showEvent(eventID) {
          document.getElementById("event-id").value = eventID;
          const error = document.getElementById("event-error");
          const view = document.getElementById("event-view");
          error.textContent = "";
          try {
            const data = await getJSON("/admin/events/" + encodeURIComponent(eventID));
            const columns = [];
            const raw = data.request;
            columns.push(raw
              ? column("Raw request as received", "request",
                  el("p", {}, "POST /" + raw.route + ", " + time(raw.received_at) + ", " + raw.body_bytes + " bytes"),
                  el("h4", {}, "Signature headers"), headerList(raw.signature_headers, SIGNATURE_NAMES, "None came with it."),
                  el("h4", {}, "Headers"), headerList(raw.headers, SIGNATURE_NAMES),
                  el("h4", {}, "Body"), el("pre", { class: "raw-body" }, pretty(raw.body)))
              : column("Raw request as received", "request", el("p", {}, "The raw request is no longer stored.")));
            columns.push(column("Canonical event", "canonical",
              el("p", {}, el("code", {}, data.event.type)),
              el("pre", { class: "canonical-body" }, JSON.stringify(data.event.payload, null, 2))));
            for (const d of data.destinations) {
              const delivery = d.delivery
                ? "Delivery " + d.delivery.id + ": " + d.delivery.state + ", " + d.delivery.attempts + " attempts"
                  + (d.delivery.last_status ? ", last HTTP " + d.delivery.last_status : "")
                : "No delivery (the destination's match leaves this event out)";
              const parts = [el("p", {}, el("code", {}, "POST " + d.url)), el("p", { class: "delivery-state" }, delivery)];
              if (d.outcome === "send") {
                parts.push(el("h4", {}, "Signature headers"),
                  headerList(d.signature_headers, SIGNATURE_NAMES, d.format === "onprem" ? "None: On-Prem webhooks carry no signature." : "None: no secret is configured."),
                  el("h4", {}, "Headers"), headerList(d.headers, SIGNATURE_NAMES),
                  el("h4", {}, "Body"), el("pre", { class: "sent-body" }, pretty(d.body)));
              } else {
                parts.push(el("p", { class: "bad outcome" }, d.outcome + ": " + (d.reason || "")));
              }
              columns.push(el("div", { class: "column", "data-side": "destination", "data-destination": d.name, "data-format": d.format },
                el("h3", {}, d.name + " (" + d.role + ", " + d.format + ")"), ...parts));
            }
            view.replaceChildren(...columns);
          } catch (failure) {
            error.textContent = failure.message;
          }
        }

        // The loop

        async function refresh() {
          const views = [refreshNumbers, refreshDestinations, refreshComparison, refreshDeadLetters];
          const results = await Promise.allSettled(views.map((view) => view()));
          const failures = results.filter((result) => result.status === "rejected").map((result) => result.reason.message);
          document.getElementById("last-refresh").textContent = "Last refresh " + new Date().toISOString().slice(11, 19) + " UTC";
          document.getElementById("refresh-error").textContent = failures.length ? "Errors: " + failures.join("; ") : "";
          document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || "0") + 1);
        }

        async function loop() {
          await refresh();
          window.setTimeout(loop, POLL_MS);
        }

        // Ends this browser's session on the server (a copy of the cookie opens nothing after it),
        // then shows the login form.
        async function logOut() {
          try { await request("/admin/logout", { method: "POST", headers: CHANGE_HEADERS }); } finally { window.location.assign("/admin/cockpit"); }
        }

        document.addEventListener("DOMContentLoaded", () => {
          document.getElementById("log-out").addEventListener("click", logOut);
          document.getElementById("retry-yes").addEventListener("click", confirmRetry);
          document.getElementById("retry-no").addEventListener("click", () => {
            pendingRetry = null;
            document.getElementById("retry-confirm").hidden = true;
          });
          document.getElementById("event-form").addEventListener("submit", (submitted) => {
            submitted.preventDefault();
            const id = document.getElementById("event-id").value.trim();
            if (id) showEvent(id);
          });
          loop();
        });
        """#
}
