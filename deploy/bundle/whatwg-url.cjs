// whatwg-url as the image's bundle has it (esbuild --alias:whatwg-url=./deploy/bundle/whatwg-url.cjs).
// node-fetch 2, the HTTP client of @kubernetes/client-node, imports whatwg-url only for a URL class
// to fall back on where Node has none (`Url.URL || whatwgUrl.URL`); Node always has one. The real
// package builds tr46's Unicode tables when loaded: 2.7 MiB of heap for nothing (bench/results).
"use strict"
const { URL, URLSearchParams } = require("node:url")
module.exports = { URL, URLSearchParams }
