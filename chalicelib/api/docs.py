"""The API's own description: GET /openapi.json and a readable page at GET /docs.

Both are open to anyone and read nothing from storage. They are plain Chalice
routes rather than `route()` ones: they serve the description, they are not part
of it, and the page is HTML rather than JSON.
"""
from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib import openapi
from chalicelib.api import http

bp = Blueprint(__name__)

# The routes this module serves, which the description leaves out.
DOC_ROUTES = {("/openapi.json", "GET"), ("/docs", "GET")}

_cache: dict[str, tuple[int, object]] = {}


def _cached(key: str, build):
    # Routes are registered at import; the count only changes when a module registers more.
    count = len(http.ROUTES)
    hit = _cache.get(key)
    if hit is None or hit[0] != count:
        hit = (count, build())
        _cache[key] = hit
    return hit[1]


def description() -> dict:
    return _cached("spec", openapi.describe)


def _page() -> str:
    # The description is embedded, so the page needs no second request and no internet access.
    spec = json.dumps(description(), separators=(",", ":"))
    spec = spec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _PAGE.replace("/*SPEC*/null", spec)


@bp.route("/openapi.json", methods=["GET"])
def openapi_json():
    return Response(body=description(), status_code=200,
                    headers={"Content-Type": "application/json", "Cache-Control": "max-age=300"})


@bp.route("/docs", methods=["GET"])
def docs_page():
    return Response(body=_cached("page", _page), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=300"})


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Digital Queue System API</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1rem 1.5rem; color: #222; }
  h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; text-transform: capitalize; }
  code, pre, .path { font-family: ui-monospace, monospace; font-size: 13px; }
  pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
  details { border: 1px solid #ddd; border-radius: 4px; margin: .4rem 0; }
  details > summary { cursor: pointer; padding: .4rem .6rem; list-style: none; }
  details[open] > summary { border-bottom: 1px solid #ddd; background: #fafafa; }
  details > div { padding: .2rem .8rem .8rem; }
  .method { display: inline-block; min-width: 4.2rem; font-weight: bold; text-align: center; color: #fff;
            border-radius: 3px; padding: 0 .3rem; margin-right: .5rem; font-size: 12px; }
  .get { background: #2f7ed8; } .post { background: #3a9a4a; } .put { background: #c77d10; }
  .patch { background: #8a5fc7; } .delete { background: #c43c3c; }
  .lock { color: #555; font-size: 11px; margin-left: .4rem; border: 1px solid #bbb; border-radius: 3px;
          padding: 0 .3rem; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0; }
  th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #eee; padding: .2rem .4rem; }
  .muted { color: #777; } .req { color: #c43c3c; }
  ul.props { margin: .2rem 0; padding-left: 1.2rem; }
  #filter { width: 100%; padding: .4rem; font-size: 15px; margin: 1rem 0 0; box-sizing: border-box; }
</style>
</head>
<body>
<h1 id="title"></h1>
<div id="intro"></div>
<input id="filter" type="search" placeholder="Filter operations (path, method, summary)">
<div id="ops"></div>
<script>
"use strict";
const SPEC = /*SPEC*/null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function resolve(schema) {
  const seen = new Set();
  while (schema && schema.$ref && !seen.has(schema.$ref)) {
    seen.add(schema.$ref);
    schema = schema.$ref.replace(/^#\\//, "").split("/").reduce((node, key) => node && node[key], SPEC);
  }
  return schema || {};
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

function typeText(schema) {
  const name = refName(schema);
  if (name) return name;
  if (schema.oneOf) return schema.oneOf.map(typeText).join(" | ");
  if (schema.type === "array") return "array of " + typeText(schema.items || {});
  let text = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
  if (schema.format) text += " (" + schema.format + ")";
  return text;
}

function constraints(schema) {
  const parts = [];
  if (schema.enum) parts.push("one of " + schema.enum.map(v => JSON.stringify(v)).join(", "));
  if (schema.minLength !== undefined) parts.push("min length " + schema.minLength);
  if (schema.maxLength !== undefined) parts.push("max length " + schema.maxLength);
  if (schema.minimum !== undefined) parts.push("min " + schema.minimum);
  if (schema.maximum !== undefined && schema.maximum < 1e15) parts.push("max " + schema.maximum);
  if (schema.pattern) parts.push("pattern " + schema.pattern);
  if (schema.readOnly) parts.push("read-only");
  if (schema.writeOnly) parts.push("write-only");
  return parts.join("; ");
}

function renderSchema(schema, depth) {
  const name = refName(schema);
  const target = resolve(schema);
  if (target.type === "array" && target.items) {
    return el("div", {}, "array of ", renderSchema(target.items, depth));
  }
  if (!target.properties) {
    return el("span", {}, el("code", {}, typeText(schema)), " ", el("span", {class: "muted"}, constraints(target)));
  }
  const list = el("ul", {class: "props"});
  const required = new Set(target.required || []);
  for (const [prop, propSchema] of Object.entries(target.properties)) {
    const inner = resolve(propSchema);
    const item = el("li", {}, el("code", {}, prop), required.has(prop) ? el("span", {class: "req"}, " *") : null,
                    " ", el("span", {class: "muted"}, typeText(propSchema)));
    const notes = [constraints(inner), propSchema.description || inner.description].filter(Boolean).join(". ");
    if (notes) item.append(" \\u2014 " + notes);
    const nested = propSchema.oneOf ? propSchema.oneOf.find(s => s.$ref) : propSchema;
    if (depth < 3 && (refName(nested) || (inner.items && refName(inner.items)))) {
      item.append(renderSchema(nested, depth + 1));
    }
    list.append(item);
  }
  return el("div", {}, name ? el("strong", {}, name) : null,
            target.additionalProperties === false ? el("span", {class: "muted"}, " (no other fields)") : null, list);
}

function renderOperation(path, method, op) {
  const body = el("div");
  const security = op.security || [];
  const needsToken = security.length > 0 && !security.some(s => Object.keys(s).length === 0);
  body.append(el("p", {}, needsToken ? "Needs Authorization: Token <token>." :
                 security.length ? "Open; a token is read when sent." : "Open to anyone."));
  if (op.parameters && op.parameters.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
                                     el("th", {}, "type"), el("th", {}, "notes")));
    for (const p of op.parameters) {
      const star = p.required ? el("span", {class: "req"}, " *") : null;
      table.append(el("tr", {}, el("td", {}, el("code", {}, p.name), star),
                      el("td", {}, p.in), el("td", {}, typeText(p.schema || {})),
                      el("td", {}, [constraints(p.schema || {}), p.description].filter(Boolean).join(". "))));
    }
    body.append(el("h4", {}, "Parameters"), table);
  }
  if (op.requestBody) {
    const media = op.requestBody.content["application/json"];
    body.append(el("h4", {}, "Body (JSON)" + (op.requestBody.required ? "" : ", optional")),
                renderSchema(media.schema, 0));
  }
  body.append(el("h4", {}, "Responses"));
  for (const [status, response] of Object.entries(op.responses)) {
    const resolved = resolve(response);
    const media = resolved.content && resolved.content["application/json"];
    body.append(el("div", {}, el("strong", {}, status + " "), resolved.description || ""));
    if (media && Number(status) < 400) body.append(renderSchema(media.schema, 0));
  }
  const lock = needsToken ? el("span", {class: "lock", title: "send Authorization: Token <token>"}, "token") : null;
  const details = el("details", {"data-search": (method + " " + path + " " + (op.summary || "")).toLowerCase()},
    el("summary", {}, el("span", {class: "method " + method}, method.toUpperCase()),
       el("span", {class: "path"}, path), " ", el("span", {class: "muted"}, op.summary || ""), lock),
    body);
  return details;
}

function render() {
  document.getElementById("title").textContent = SPEC.info.title + " " + SPEC.info.version;
  const server = SPEC.servers && SPEC.servers[0] ? SPEC.servers[0].url : "";
  const intro = document.getElementById("intro");
  intro.append(el("p", {}, "Base URL: ", el("code", {}, location.origin + server + "/"),
                  " \\u00b7 ", el("a", {href: "openapi.json"}, "openapi.json")));
  intro.append(el("pre", {}, SPEC.info.description || ""));
  const byTag = new Map();
  for (const [path, item] of Object.entries(SPEC.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(renderOperation(path, method, op));
    }
  }
  const ops = document.getElementById("ops");
  for (const tag of [...byTag.keys()].sort()) {
    ops.append(el("section", {}, el("h2", {}, tag), ...byTag.get(tag)));
  }
  document.getElementById("filter").addEventListener("input", event => {
    const words = event.target.value.toLowerCase().split(/\\s+/).filter(Boolean);
    for (const details of ops.querySelectorAll("details")) {
      const text = details.getAttribute("data-search");
      details.hidden = !words.every(word => text.includes(word));
    }
    for (const section of ops.querySelectorAll("section")) {
      section.hidden = [...section.querySelectorAll("details")].every(d => d.hidden);
    }
  });
}

render();
</script>
</body>
</html>
"""
