// The page chrome, written once: every page under www/ (but the landing page, index.html, which
// has its own header) holds a `<header id="chrome">` (with its intro paragraphs, or none) and
// its module calls mountChrome() first thing. The head boilerplate every page shared (viewport,
// icon, title) is added here too, so a page's HTML keeps only its own content: the benchmark
// pages are `<!doctype html>`, `<html lang>`, the charset, style.css, the header, `<main>` and
// their module, with HTML's optional <head>/<body> tags left out.

/** Every page, in nav order: [file, nav label]. Adding a page means adding one row here. */
export const PAGES = [
  ['index.html', 'home'],
  ['classify.html', 'image classifier'],
  ['hand.html', 'hand landmarks'],
  ['llm.html', 'LLM benchmark'],
  ['cnn.html', 'CNN benchmark'],
  ['tfjs.html', 'TF.js benchmark'],
  ['gpu.html', 'WebGPU benchmark'],
  ['bench.html', 'kernel benchmark'],
];

function addHead(tag, attrs) {
  const sel = `${tag}[${Object.keys(attrs)[0]}="${Object.values(attrs)[0]}"]`;
  if (document.head.querySelector(sel)) return;
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  document.head.append(e);
}

/**
 * Fills `<header id="chrome">`: the nav to every other page, then `<h1>zeroskip · title</h1>`,
 * then `intro` (HTML, or a list of HTML paragraphs) before whatever the header already holds (a
 * page may keep its intro paragraphs in its HTML). Sets document.title to `zeroskip · ${title}`:
 * do it before a run starts, since the benchmark runners read the title ('running …', 'done',
 * 'error').
 */
export function mountChrome({ title, intro } = {}) {
  addHead('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' });
  addHead('link', { rel: 'icon', href: 'data:,' });
  document.title = `zeroskip · ${title}`;
  const header = document.getElementById('chrome') ??
    document.body.insertBefore(document.createElement('header'), document.body.firstChild);
  header.id = 'chrome';
  const here = location.pathname.split('/').pop() || 'index.html';
  const nav = document.createElement('nav');
  nav.className = 'pagenav';
  for (const [href, label] of PAGES) {
    if (href === here) continue;
    const a = document.createElement('a');
    a.href = href;
    a.textContent = label;
    nav.append(a);
  }
  const h1 = document.createElement('h1');
  const home = document.createElement('a');
  home.href = 'index.html';
  home.textContent = 'zeroskip';
  h1.append(home, ` · ${title}`);
  const paragraphs = (Array.isArray(intro) ? intro : intro ? [intro] : []).map((html) => {
    const p = document.createElement('p');
    p.innerHTML = html;
    return p;
  });
  header.prepend(nav, h1, ...paragraphs);
  return header;
}
