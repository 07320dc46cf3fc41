/* The table panels' grids (dashapp/pages/grids.py): a cell renderer for the cells that bold a word, break a
   line or link to a page. The server sends each such cell as lines of plain parts; React escapes their text,
   so no cell is ever read as HTML. */
window.dashAgGridComponentFunctions = Object.assign(window.dashAgGridComponentFunctions || {}, {
  PortalRichText(props) {
    const e = React.createElement;
    const lines = props.data && props.data[props.colDef.field + "_rich"];
    if (!lines) {
      return props.valueFormatted != null ? props.valueFormatted : props.value;
    }
    return e(
      "div",
      { className: "grid-rich" },
      lines.map((line, i) =>
        e(
          "div",
          { key: i },
          line.map((part, j) => {
            const className = [part.bold ? "fw-semibold" : "", part.muted ? "text-body-secondary" : ""].join(" ").trim();
            return part.href
              ? e("a", { key: j, href: part.href, className: className || undefined }, part.text)
              : e("span", { key: j, className: className || undefined }, part.text);
          })
        )
      )
    );
  },
});
