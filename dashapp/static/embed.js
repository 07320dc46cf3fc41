// Draw the embed page's figure (the JSON beside this script) to fill its frame, redrawn as the frame resizes.
(function () {
  var figure = JSON.parse(document.getElementById("figure").textContent);
  // No "Share chart..." button: plotly.js 4 would offer to upload the data to Plotly Cloud.
  var config = { responsive: true, displaylogo: false, showSendToCloud: false };
  Plotly.newPlot(document.getElementById("chart"), figure.data, figure.layout, config);
})();
