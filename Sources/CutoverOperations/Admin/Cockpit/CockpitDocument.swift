/// The cockpit's HTML: the frame of each view; `CockpitScript` fills it from the admin API.
enum CockpitDocument {
    static let text = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Cutover cockpit</title>
        <link rel="stylesheet" href="/admin/cockpit.css">
        <script src="/admin/cockpit.js" defer></script>
        </head>
        <body>
        <header>
          <h1>Cutover cockpit</h1>
          <nav>
            <a href="#numbers">Numbers</a> <a href="#destinations">Destinations</a> <a href="#comparison">Primary vs shadow</a>
            <a href="#dead-letters">Dead letters</a> <a href="#event">One event</a>
          </nav>
          <p id="status"><span id="last-refresh">Not refreshed yet</span> <span id="refresh-error" role="alert"></span>
            <button type="button" id="log-out">Log out</button></p>
        </header>
        <main>
        <section id="numbers">
          <h2>Business numbers</h2>
          <p class="note">Since this process started; rates over the last 10 and 60 seconds.</p>
          <table>
            <thead><tr><th>Phone number id</th><th>Display number</th><th>Arrives from</th><th>Events</th><th>Per second (10 s)</th><th>Per second (60 s)</th><th>By type: total (per second, 10 s)</th><th>Last event</th></tr></thead>
            <tbody></tbody>
          </table>
          <p class="spool-totals"></p>
        </section>
        <section id="destinations">
          <h2>Destinations</h2>
          <table>
            <thead><tr><th>Name</th><th>Role</th><th>Format</th><th>Delivered</th><th>Queue depth</th><th>In flight</th><th>Oldest pending</th><th>Dead</th><th>Retries</th><th>Responses</th><th>Latency</th><th>Circuit</th></tr></thead>
            <tbody></tbody>
          </table>
          <p class="note">Delivered, queue depth, in flight, dead and oldest pending are the spool's; retries, responses and latency (over the latest 512 responses) are since this process started.</p>
        </section>
        <section id="comparison">
          <h2>Primary vs shadow</h2>
          <table class="pairs">
            <thead><tr><th>Primary</th><th>Shadow</th><th>Events to both</th><th>Compared</th><th>Primary accepted</th><th>Shadow accepted</th><th>Agree</th><th>Disagree</th><th>Pending</th></tr></thead>
            <tbody></tbody>
          </table>
          <p class="note">Compared: both sides final (delivered or dead); pending: a side still queued or retrying. A disagreement is one side accepting (2xx) and the other not.</p>
          <h3>Disagreements</h3>
          <table class="disagreements">
            <thead><tr><th>Event</th><th>Type</th><th>Received</th><th>Primary</th><th>Primary body</th><th>Shadow</th><th>Shadow body</th></tr></thead>
            <tbody></tbody>
          </table>
          <p class="comparison-note note"></p>
        </section>
        <section id="dead-letters">
          <h2>Dead letters</h2>
          <div id="retry-confirm" hidden>
            <p id="retry-question"></p>
            <button type="button" id="retry-yes">Retry it</button> <button type="button" id="retry-no">Cancel</button>
          </div>
          <p id="retry-result" role="status"></p>
          <table>
            <thead><tr><th>Id</th><th>Destination</th><th>Event</th><th>Type</th><th>Attempts</th><th>Last status</th><th>Reason</th><th>Age</th><th></th></tr></thead>
            <tbody></tbody>
          </table>
        </section>
        <section id="event">
          <h2>One event side by side</h2>
          <form id="event-form">
            <label>Event id <input id="event-id" name="event-id" size="60" autocomplete="off"></label>
            <button type="submit">Show</button>
          </form>
          <p id="event-error" role="alert"></p>
          <div id="event-view" class="columns"></div>
        </section>
        </main>
        </body>
        </html>

        """#
}
