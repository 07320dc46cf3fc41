// Draw the embed page's figure (the JSON beside this script) to fill its frame, redrawn as the frame resizes.
// With refresh=, ask for the page again every period with its ETag (the chart's data version): a 304 means
// nothing moved; a new page's figure and footer are drawn in place, with no reload and no flash.
(function () {
  var body = document.body;
  var chart = document.getElementById("chart");
  // No "Share chart..." button: plotly.js 4 would offer to upload the data to Plotly Cloud.
  var config = { responsive: true, displaylogo: false, showSendToCloud: false };
  if (chart) {
    var figure = JSON.parse(document.getElementById("figure").textContent);
    Plotly.newPlot(chart, figure.data, figure.layout, config);
  }
  var seconds = Number(body.dataset.refresh || 0);
  if (!seconds) return;

  function redraw(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var json = next.getElementById("figure");
    if (!chart || !json) {
      location.reload(); // a message became a chart, or the other way round
      return;
    }
    var figure = JSON.parse(json.textContent);
    Plotly.react(chart, figure.data, figure.layout, config);
    document.querySelector(".embed-footer").textContent = next.querySelector(".embed-footer").textContent;
    chart.setAttribute("aria-label", next.getElementById("chart").getAttribute("aria-label")); // its summary
  }

  setInterval(function () {
    fetch(location.href, { headers: { "If-None-Match": body.dataset.etag }, cache: "no-store" })
      .then(function (response) {
        if (response.status !== 200) return; // 304: nothing moved; an error: try again next time
        body.dataset.etag = response.headers.get("ETag") || "";
        return response.text().then(redraw);
      })
      .catch(function () {}); // the server is away for now: the next period asks again
  }, seconds * 1000);
})();
