// HTML of the dev ord server: ord's preview pages (templates/preview-*.html, same markup), its
// iframes (src/templates/iframe.rs), and small explorer pages (/, /inscription, /output, /sat) in
// ord's page shell (templates/page.html): styled only by ord's /static/index.css, never inline,
// so the pages keep ord's own `default-src 'self'` CSP. Pure functions of the data they are given.
import type { Inscription } from "./store.ts";
import type { PreviewMedia } from "./media.ts";
import type { SatInfo } from "./parse.ts";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PREVIEW_UNKNOWN = `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
  </head>
  <body>
  </body>
</html>
`;

/** templates/preview-<media>.html. `extra` is the code language or the image rendering. */
export function previewHtml(media: PreviewMedia, extra: string | undefined, id: string, number: number): string {
  const title = `<title>Inscription ${number} Preview</title>`;
  switch (media) {
    case "audio":
      return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    ${title}
    <link rel=stylesheet href=/static/preview-audio.css>
  </head>
  <body>
    <audio controls>
      <source src=/content/${id}>
    </audio>
  </body>
</html>
`;
    case "code":
      return `<!doctype html>
<html lang=en data-inscription=${id} data-language=${extra}>
  <head>
    <meta charset=utf-8>
    ${title}
    <link rel=stylesheet href=/static/preview-code.css>
    <script src=/static/preview-code.js defer type=module></script>
  </head>
  <body>
    <pre><code></code></pre>
  </body>
</html>
`;
    case "font":
      // ord's template has the space before '>' too.
      return `<!doctype html>
<html lang=en >
  <head>
    <meta charset=utf-8>
    ${title}
    <style>
      @font-face {
        font-family: 'Inscription';
        src: url(/content/${id});
      }
    </style>
    <link rel=stylesheet href=/static/preview-font.css>
  </head>
  <body>
    <textarea>Sphinx of black quartz, judge my vow.</textarea>
  </body>
</html>
`;
    case "image":
      return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    <meta name=format-detection content='telephone=no'>
    ${title}
    <style>
      html {
        background-color: #131516;
        height: 100%;
      }

      body {
        background-image: url(/content/${id});
        background-position: center;
        background-repeat: no-repeat;
        background-size: contain;
        height: 100%;
        image-rendering: ${extra};
        margin: 0;
      }

      img {
        float: left;
        height: 100%;
        opacity: 0;
        width: 100%;
      }
    </style>
    <script src=/static/preview-image.js type=module defer></script>
  </head>
  <body>
    <img src=/content/${id} alt='inscription ${id}'>
  </body>
</html>
`;
    case "markdown":
      return `<!doctype html>
<html lang=en data-inscription=${id}>
  <head>
    <meta charset=utf-8>
    ${title}
    <link rel=stylesheet href=/static/preview-markdown.css></link>
    <script src=/static/preview-markdown.js type=module defer></script>
  </head>
  <body>
  </body>
</html>
`;
    case "model":
      return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    ${title}
    <script type=module src=https://ajax.googleapis.com/ajax/libs/model-viewer/3.1.1/model-viewer.min.js></script>
    <style>
      model-viewer {
        position: fixed;
        width: 100%;
        height: 100%;
      }
    </style>
  </head>
  <body>
    <model-viewer src=/content/${id} auto-rotate=true camera-controls=true shadow-intensity=1></model-viewer>
  </body>
</html>
`;
    case "pdf":
      return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    ${title}
    <link rel=stylesheet href=/static/preview-pdf.css>
    <script src=/static/preview-pdf.js defer type=module></script>
  </head>
  <body>
    <canvas data-inscription=${id}></canvas>
  </body>
</html>
`;
    case "text":
      return `<!doctype html>
<html lang=en data-inscription=${id}>
  <head>
    <meta charset=utf-8>
    <meta name=format-detection content='telephone=no'>
    ${title}
    <link href=/static/preview-text.css rel=stylesheet>
    <script src=/static/preview-text.js type=module defer></script>
  </head>
  <body>
    <pre></pre>
    <noscript>
      <pre></pre>
    </noscript>
  </body>
</html>
`;
    case "video":
      return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    ${title}
    <link rel=stylesheet href=/static/preview-video.css>
    <script src=/static/preview-video.js type=module defer></script>
  </head>
  <body>
    <video loop muted autoplay>
      <source src=/content/${id}>
    </video>
  </body>
</html>
`;
    case "unknown":
      return PREVIEW_UNKNOWN;
  }
}

/** templates/iframe.rs IframeKind::Main. */
export function iframeMain(id: string): string {
  return `<iframe sandbox=allow-scripts loading=lazy src=/preview/${id}></iframe>`;
}

/** templates/iframe.rs IframeKind::Thumbnail. */
export function iframeThumbnail(id: string): string {
  return `<a href=/inscription/${id}><iframe sandbox=allow-scripts scrolling=no loading=lazy src=/preview/${id}></iframe></a>`;
}

/** templates/page.html, trimmed to what this server has: ord's stylesheets and icons, one nav link. */
export function page(title: string, main: string): string {
  return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    <meta name=format-detection content='telephone=no'>
    <meta name=viewport content='width=device-width,initial-scale=1.0'>
    <title>${escapeHtml(title)}</title>
    <link rel=icon href=/static/favicon.png>
    <link rel=icon href=/static/favicon.svg>
    <link rel=stylesheet href=/static/index.css>
    <link rel=stylesheet href=/static/modern-normalize.css>
  </head>
  <body>
  <header>
    <nav>
      <a href=/ title=home>Ordinals<sup>dev</sup></a>
    </nav>
  </header>
  <main>
${main}
  </main>
  </body>
</html>
`;
}

/** One `<dt>`/`<dd>` pair, as ord's templates indent them. */
const dd = (k: string, v: string) => `  <dt>${k}</dt>\n  <dd>${v}</dd>\n`;
const link = (id: string) => `<a href=/inscription/${id}>${id}</a>`;

export function homePage(list: readonly Inscription[], height: number, satIndex: boolean): string {
  const row = (i: Inscription) =>
    [
      `<tr><td><a href=/inscription/${i.id}>${i.number}</a></td><td>${link(i.id)}</td>`,
      `<td>${escapeHtml(i.content_type ?? "")}${i.content_encoding ? ` (${escapeHtml(i.content_encoding)})` : ""}</td>`,
      `<td>${i.sat ?? ""}</td><td><a href=/content/${i.id}>content</a></td>`,
      satIndex && i.sat !== null ? `<td><a href=/r/sat/${i.sat}/at/-1/content>sat latest</a></td>` : "<td></td>",
      `</tr>`,
    ].join("");
  return page(
    "Ordinals",
    `<h1>Inscriptions</h1>
<p>block height ${height} · ${list.length} inscription(s) · sat index ${satIndex ? "on" : "off"}</p>
<table>
<tr><th>number</th><th>id</th><th>content type</th><th>sat</th><th></th><th></th></tr>
${[...list].reverse().map(row).join("\n")}
</table>`,
  );
}

export interface InscriptionView {
  i: Inscription;
  parents: Inscription[];
  children: Inscription[];
  prev: Inscription | undefined;
  next: Inscription | undefined;
  /** Where it is now (the store's `location`). */
  satpoint: string;
}

/** templates/inscription.html, in short: the preview iframe between ❮ ❯, then the fields. */
export function inscriptionPage(v: InscriptionView, metadataHex: string | null): string {
  const { i } = v;
  const fields = [
    v.parents.length ? dd("parents", v.parents.map((p) => link(p.id)).join("<br>")) : "",
    v.children.length ? dd("children", v.children.map((c) => link(c.id)).join("<br>")) : "",
    dd("id", i.id),
    i.delegate ? dd("delegate", link(i.delegate)) : "",
    i.address ? dd("address", escapeHtml(i.address)) : "",
    dd("value", String(i.value)),
    i.sat !== null ? dd("sat", String(i.sat)) : "",
    dd("preview", `<a href=/preview/${i.id}>link</a>`),
    dd("content", `<a href=/content/${i.id}>link</a>`),
    i.body ? dd("content length", `${i.body.length} bytes`) : "",
    i.content_type ? dd("content type", escapeHtml(i.content_type)) : "",
    i.content_encoding ? dd("content encoding", escapeHtml(i.content_encoding)) : "",
    dd("timestamp", new Date(i.timestamp * 1000).toISOString()),
    dd("height", String(i.height)),
    dd("fee", String(i.fee)),
    dd("satpoint", v.satpoint),
    metadataHex !== null ? dd("metadata", metadataHex) : "",
  ];
  return page(
    `Inscription ${i.number}`,
    `<h1>Inscription ${i.number}</h1>
<div class=inscription>
${v.prev ? `<a class=prev href=/inscription/${v.prev.id}>❮</a>` : "<div>❮</div>"}
${iframeMain(i.id)}
${v.next ? `<a class=next href=/inscription/${v.next.id}>❯</a>` : "<div>❯</div>"}
</div>
<dl>
${fields.join("")}</dl>`,
  );
}

export interface OutputView {
  outpoint: string;
  inscriptions: string[];
  value: number;
  address: string | null;
  spent: boolean;
  sat_ranges: [number, number][] | null;
}

export function outputPage(o: OutputView): string {
  const fields = [
    o.inscriptions.map((id) => dd("inscription", link(id))).join(""),
    dd("value", String(o.value)),
    o.address ? dd("address", escapeHtml(o.address)) : "",
    dd("spent", String(o.spent)),
    o.sat_ranges ? dd("sat ranges", o.sat_ranges.map(([a, b]) => `${a}–${b}`).join("<br>")) : "",
  ];
  return page(`Output ${o.outpoint}`, `<h1>Output <span class=monospace>${o.outpoint}</span></h1>\n<dl>\n${fields.join("")}</dl>`);
}

export function satPage(sat: bigint, info: SatInfo, satpoint: string | null, on: Inscription[]): string {
  const fields = [
    dd("name", info.name),
    dd("decimal", info.decimal),
    dd("rarity", info.rarity),
    satpoint ? dd("satpoint", satpoint) : "",
    on.map((i) => dd("inscription", link(i.id))).join(""),
  ];
  return page(`Sat ${sat}`, `<h1>Sat ${sat}</h1>\n<dl>\n${fields.join("")}</dl>`);
}
