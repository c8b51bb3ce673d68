/// The cockpit's stylesheet: plain and readable, no colour that carries meaning alone.
enum CockpitStyle {
    static let text = #"""
        body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1b1b; background: #fff; }
        header { padding: 0.75rem 1.25rem; border-bottom: 1px solid #ccc; background: #f4f4f4; }
        header h1 { font-size: 1.25rem; margin: 0 0 0.25rem; }
        nav a { margin-right: 0.75rem; }
        #status { margin: 0.25rem 0 0; color: #444; }
        #refresh-error, #event-error { color: #a00000; font-weight: 600; }
        main { padding: 0 1.25rem 2rem; }
        section { margin-top: 1.5rem; }
        h2 { font-size: 1.1rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
        h3 { font-size: 1rem; }
        .note { color: #555; font-size: 0.9em; }
        table { border-collapse: collapse; width: 100%; }
        th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; font-weight: 600; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        tr.empty td { color: #666; font-style: italic; }
        .bad { color: #a00000; font-weight: 600; }
        .good { color: #0a5d0a; }
        code, pre { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; }
        pre { white-space: pre-wrap; word-break: break-all; background: #f7f7f7; border: 1px solid #ddd; padding: 0.4rem; margin: 0.25rem 0; max-height: 30rem; overflow: auto; }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 0.75rem; }
        .column { border: 1px solid #ccc; padding: 0.5rem; min-width: 0; }
        .column h4 { margin: 0.6rem 0 0.2rem; font-size: 0.9rem; }
        .column h3 { margin: 0 0 0.3rem; }
        .signature { background: #fff6d6; }
        #retry-confirm { border: 2px solid #a00000; padding: 0.5rem 0.75rem; margin: 0.5rem 0; background: #fff3f3; }
        button { font: inherit; padding: 0.15rem 0.6rem; }
        """#
}
