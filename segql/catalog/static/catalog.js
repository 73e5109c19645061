// Search and filters of the catalog's index: the definitions are in CATALOG
// (written into the page: no request, so the catalog opens from disk).
(function () {
  "use strict";
  const byName = new Map(CATALOG.map((d) => [d.name, d]));
  const search = document.getElementById("search");
  const kind = document.getElementById("kind");
  const channel = document.getElementById("channel");
  const kpi = document.getElementById("kpi");
  const count = document.getElementById("count");
  const rows = Array.from(document.querySelectorAll("#definitions tbody tr"));

  function matches(d) {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const text = [d.name, d.title, d.hypothesis].join(" ").toLowerCase();
    return (
      words.every((w) => text.includes(w)) &&
      (!kind.value || d.kind === kind.value) &&
      (!channel.value || d.channels.includes(channel.value)) &&
      (!kpi.value || d.kpis.includes(kpi.value))
    );
  }

  function update() {
    let shown = 0;
    for (const row of rows) {
      const ok = matches(byName.get(row.dataset.name));
      row.classList.toggle("hidden", !ok);
      shown += ok ? 1 : 0;
    }
    count.textContent = shown + " of " + rows.length;
  }

  // a select may report a choice by "change" only (older browsers, drivers)
  for (const input of [search, kind, channel, kpi]) {
    input.addEventListener("input", update);
    input.addEventListener("change", update);
  }
  update();
})();
