// The portal's light or dark theme (Bootstrap 5.3's data-bs-theme on <html>), kept in the URL as theme=dark
// (light is the default and stays out of it) and remembered in the browser: a portal opened without theme=
// takes the remembered theme and writes it into the URL before Dash reads the URL, so the panels draw it.
// pages/theme.py loads this file in the page's <head>, so that a dark page is never painted light first;
// Dash loads it again with the other assets, hence the guard. A file, not an inline script: the CSP forbids those.
(function () {
  if (window.dashappTheme) return;
  var KEY = "dashapp-theme";
  var THEMES = ["light", "dark"];

  function remembered() {
    try {
      return window.localStorage.getItem(KEY);
    } catch (e) {
      return null; // storage off (a private window's policy): the URL alone says the theme
    }
  }

  function apply(theme) {
    document.documentElement.setAttribute("data-bs-theme", theme);
    try {
      window.localStorage.setItem(KEY, theme);
    } catch (e) {}
  }

  // The query string with theme= set for `theme` (light: left out), as "?..." or "".
  function searchWith(search, theme) {
    var params = new URLSearchParams(search || "");
    if (theme === "dark") params.set("theme", "dark");
    else params.delete("theme");
    var query = params.toString();
    return query ? "?" + query : "";
  }

  // The theme a query string asks for: its theme=, else the remembered one (null: a forged theme=, shown light
  // and not remembered).
  function wanted(search) {
    var params = new URLSearchParams(search || "");
    if (!params.has("theme")) return remembered() === "dark" ? "dark" : "light";
    var theme = params.get("theme");
    return THEMES.indexOf(theme) < 0 ? null : theme;
  }

  var loc = window.location;
  var theme = wanted(loc.search);
  if (theme === "dark" && !new URLSearchParams(loc.search).has("theme")) {
    window.history.replaceState(window.history.state, "", loc.pathname + searchWith(loc.search, theme) + loc.hash);
  }
  if (theme) apply(theme);
  else document.documentElement.setAttribute("data-bs-theme", "light");

  window.dashappTheme = { apply: apply, searchWith: searchWith };

  // The navbar switch's callback (pages/theme.py): the URL and the switch kept in step, the page themed.
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.theme = {
    sync: function (search, dark) {
      var noUpdate = window.dash_clientside.no_update;
      var triggered = window.dash_clientside.callback_context.triggered || [];
      var bySwitch = triggered.some(function (t) {
        return t.prop_id.indexOf("theme-switch.") === 0;
      });
      if (bySwitch) {
        var chosen = dark ? "dark" : "light";
        apply(chosen);
        var next = searchWith(search, chosen);
        return [next === (search || "") ? noUpdate : next, noUpdate];
      }
      // The URL moved (a link, the back button, the filters): a link without theme= keeps the remembered one.
      var shown = wanted(search) || "light";
      var next = searchWith(search, shown);
      if (document.documentElement.getAttribute("data-bs-theme") !== shown) apply(shown);
      return [shown === "dark" && next !== (search || "") ? next : noUpdate, shown === "dark"];
    },
  };
})();
