/* Two ARIA faults of Dash 4's components that no prop reaches (axe-core finds them; tests/browser/test_accessibility.py):
   - a dropdown takes Tab on an aria-hidden input placed before its button (tabindex -1), which hands the focus on:
     a focusable element hidden from screen readers. The button takes Tab itself instead, and the hidden input
     leaves the tab order (the button's blur puts it back; it is taken out again).
   - the date range's wrapper carries aria-expanded and aria-haspopup, which a plain div may not; as a group (named by
     its two date inputs) it may. */
(function () {
  "use strict";

  function repair() {
    document.querySelectorAll(".dash-dropdown-focus-target:not([tabindex='-1'])").forEach((proxy) => {
      const button = proxy.nextElementSibling;
      if (button && button.tagName === "BUTTON" && !button.disabled) {
        proxy.tabIndex = -1;
        button.tabIndex = 0;
      }
    });
    document.querySelectorAll(".dash-datepicker-input-wrapper:not([role])").forEach((wrapper) => {
      wrapper.setAttribute("role", "group");
    });
  }

  // Pages are drawn and swapped by Dash after load: repair what appears. A MutationObserver's callback runs as a
  // microtask after the script that changed the DOM, once per batch of changes, so no task (a screen reader's
  // query, a click, an audit) ever sees a control unrepaired; deferring to the next frame let one in.
  new MutationObserver(repair).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["tabindex"],
  });
  repair();
})();
