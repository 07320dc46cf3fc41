/* Two ARIA faults of Dash 4's components that no prop reaches (axe-core finds them; tests/browser/test_accessibility.py):
   - a dropdown's focus proxy is an aria-hidden input in the tab order: Shift+Tab from the dropdown stops on it, unseen
     and unnamed. Out of the tab order, Tab and Shift+Tab reach the dropdown's own button directly.
   - the date range's wrapper carries aria-expanded and aria-haspopup, which a plain div may not; as a group (named by
     its two date inputs) it may. */
(function () {
  "use strict";
  let pending = false;

  function repair() {
    pending = false;
    document.querySelectorAll(".dash-dropdown-focus-target:not([tabindex='-1'])").forEach((proxy) => {
      proxy.tabIndex = -1;
    });
    document.querySelectorAll(".dash-datepicker-input-wrapper:not([role])").forEach((wrapper) => {
      wrapper.setAttribute("role", "group");
    });
  }

  // Pages are drawn and swapped by Dash after load: repair what appears, at most once a frame.
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(repair);
    }
  }).observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ["tabindex"] });
})();
