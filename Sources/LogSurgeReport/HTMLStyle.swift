extension HTMLReport {
    /// The page's style sheet, inline: system fonts only, a light scheme and a dark one
    /// (`prefers-color-scheme`), laid out for a window 1280 px wide and readable narrower.
    /// It holds no `<` or `&`, so it stays well-formed XML text.
    static let styleSheet = """

        :root {
          --bg: #f5f6f8; --card: #ffffff; --text: #1c232d; --muted: #5d6876; --faint: #8a94a1;
          --rule: #e3e7ec; --grid: #edf0f3; --axis: #b8c0ca;
          --series: #1f5fbf; --band: rgba(31, 95, 191, 0.10); --baseline: #6b7480;
          --errors: #b5461c; --band-errors: rgba(181, 70, 28, 0.10); --bar: #5b83c4; --bar-other: #b7c0cc;
          --surge: #c0392b; --surge-bg: rgba(192, 57, 43, 0.10);
          --spike: #b7791f; --spike-bg: rgba(214, 158, 46, 0.16);
          --ok: #2f7d4f; --hover: rgba(28, 35, 45, 0.06);
          color-scheme: light dark;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #14181e; --card: #1c2129; --text: #e4e8ee; --muted: #a3adba; --faint: #7c8795;
            --rule: #2d343e; --grid: #252b34; --axis: #4a5360;
            --series: #6ea4f2; --band: rgba(110, 164, 242, 0.14); --baseline: #9aa3af;
            --errors: #f08a5d; --band-errors: rgba(240, 138, 93, 0.14); --bar: #5f8fd6; --bar-other: #56606d;
            --surge: #f07167; --surge-bg: rgba(240, 113, 103, 0.14);
            --spike: #e0b050; --spike-bg: rgba(224, 176, 80, 0.16);
            --ok: #6cc592; --hover: rgba(255, 255, 255, 0.06);
          }
        }
        * { box-sizing: border-box; }
        html { background: var(--bg); }
        body {
          margin: 0; color: var(--text); background: var(--bg);
          font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif;
          font-variant-numeric: tabular-nums;
        }
        .wrap { max-width: 1200px; margin: 0 auto; padding: 0 32px; }
        .mono, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
        header.top { background: var(--card); border-bottom: 1px solid var(--rule); padding: 22px 0 18px; }
        .eyebrow { margin: 0; color: var(--muted); font-size: 12px; letter-spacing: 0.08em; text-transform: uppercase; font-weight: 600; }
        h1 { margin: 4px 0 2px; font-size: 24px; font-weight: 600; letter-spacing: -0.01em; }
        .sub { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
        h2 { font-size: 17px; font-weight: 600; margin: 0 0 4px; }
        h3 { font-size: 14px; font-weight: 600; margin: 18px 0 6px; }
        section { margin: 26px 0; }
        .lead { margin: 0 0 12px; color: var(--muted); max-width: 980px; }
        .none { margin: 0; padding: 14px 16px; background: var(--card); border: 1px solid var(--rule); border-radius: 8px; color: var(--muted); }
        .note { color: var(--muted); font-size: 13px; }
        .warnings { background: var(--spike-bg); border: 1px solid var(--spike); border-radius: 8px; padding: 12px 16px; }
        .warnings ul { margin: 4px 0 0; padding-left: 20px; }
        .howto { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 28px; margin: 0 0 6px; padding: 0; list-style: none;
          color: var(--muted); font-size: 13px; }
        .howto b { color: var(--text); font-weight: 600; }
        .dim { color: var(--faint); }
        .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
        .figure { background: var(--card); border: 1px solid var(--rule); border-radius: 8px; padding: 12px 16px; }
        .figure .name { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em; }
        .figure .value { font-size: 24px; font-weight: 600; line-height: 1.3; }
        .figure .note { font-size: 12px; }
        .figure.alert { border-top: 3px solid var(--surge); }
        .figure.alert .value { color: var(--surge); }
        .figure.ok { border-top: 3px solid var(--ok); }
        .figure.ok .value { color: var(--ok); }
        table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--rule); border-radius: 8px; }
        th, td { text-align: left; padding: 7px 12px; border-bottom: 1px solid var(--rule); vertical-align: top; }
        th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; background: var(--bg); }
        tbody tr:last-child td { border-bottom: none; }
        .num { text-align: right; white-space: nowrap; }
        td.site { overflow-wrap: break-word; font-weight: 500; }
        td.high { color: var(--errors); font-weight: 600; }
        td.error { color: var(--surge); overflow-wrap: anywhere; }
        .scroll { overflow-x: auto; }
        .episodes td { white-space: nowrap; }
        .episodes td.site { white-space: normal; min-width: 12em; }
        .episodes .dim { font-size: 12px; }
        a { color: var(--series); text-decoration: none; }
        a:hover { text-decoration: underline; }
        .tag { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
        .tag.surge { color: var(--surge); background: var(--surge-bg); }
        .tag.spike { color: var(--spike); background: var(--spike-bg); }
        .tag.drop { color: var(--surge); background: transparent; border: 1px solid var(--surge); }
        .tag.open { color: var(--text); background: var(--hover); }
        article.site { background: var(--card); border: 1px solid var(--rule); border-radius: 8px; padding: 14px 18px 8px; margin: 14px 0; }
        article.site header { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
        article.site h3 { margin: 0; font-size: 16px; overflow-wrap: anywhere; }
        article.site .meta { margin: 0; color: var(--muted); }
        figure { margin: 10px 0 8px; }
        figcaption { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; font-size: 13px; margin-bottom: 2px; }
        figcaption .what { font-weight: 600; }
        figcaption .stat { color: var(--muted); }
        figcaption .legend { margin-left: auto; color: var(--muted); font-size: 12px; }
        .key { margin-left: 14px; white-space: nowrap; }
        .swatch { display: inline-block; width: 18px; height: 10px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
        .swatch.series { height: 0; border-top: 2px solid var(--series); border-radius: 0; vertical-align: 3px; }
        .swatch.errors { height: 0; border-top: 2px solid var(--errors); border-radius: 0; vertical-align: 3px; }
        .swatch.baseline { height: 0; border-top: 2px dashed var(--baseline); border-radius: 0; vertical-align: 3px; }
        .swatch.band { background: var(--band); }
        .swatch.band-errors { background: var(--band-errors); }
        .swatch.shade-surge { background: var(--surge-bg); border-left: 2px solid var(--surge); }
        .swatch.shade-spike { background: var(--spike-bg); border-left: 2px solid var(--spike); }
        svg { display: block; overflow: visible; }
        svg text { font-family: inherit; font-size: 11px; fill: var(--muted); }
        .grid line { stroke: var(--grid); stroke-width: 1; }
        .axis line { stroke: var(--axis); stroke-width: 1; }
        .axis.y text { text-anchor: end; }
        .axis.x text { text-anchor: middle; }
        .axis.x text.day { fill: var(--text); font-weight: 600; }
        path.band { fill: var(--band); stroke: none; }
        path.band.errors { fill: var(--band-errors); }
        path.series { fill: none; stroke: var(--series); stroke-width: 1.6; stroke-linejoin: round; }
        path.series.errors { stroke: var(--errors); }
        path.baseline { fill: none; stroke: var(--baseline); stroke-width: 1.3; stroke-dasharray: 5 3; }
        .shade.surge rect { fill: var(--surge-bg); }
        .shade.surge line { stroke: var(--surge); stroke-width: 2; }
        .shade.spike rect { fill: var(--spike-bg); }
        .shade.spike line { stroke: var(--spike); stroke-width: 2; }
        text.shade-label { font-weight: 600; fill: var(--text); }
        .hit rect { fill: transparent; }
        .hit rect:hover { fill: var(--hover); }
        .columns { display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 6fr); gap: 28px; align-items: start; }
        .bars { background: var(--card); border: 1px solid var(--rule); border-radius: 8px; padding: 8px 4px; }
        rect.bar { fill: var(--bar); }
        rect.bar.other { fill: var(--bar-other); }
        text.bar-label { text-anchor: end; fill: var(--text); font-weight: 600; font-size: 12px; }
        text.bar-value { font-size: 12px; }
        .samples { list-style: none; margin: 0; padding: 0; }
        .samples li { margin: 0 0 4px; overflow-wrap: anywhere; }
        .samples .where { color: var(--muted); font-size: 12px; }
        .samples code { background: var(--bg); padding: 1px 4px; border-radius: 3px; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 24px; margin: 0; background: var(--card);
          border: 1px solid var(--rule); border-radius: 8px; padding: 12px 16px; }
        dl.facts dt { color: var(--muted); font-weight: 600; }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        footer { color: var(--faint); font-size: 12px; padding-bottom: 24px; }
        @media (max-width: 900px) { .columns, .howto { grid-template-columns: 1fr; } .wrap { padding: 0 16px; } }
        @media print { .hit { display: none; } article.site, table { break-inside: avoid; } }

        """
}
