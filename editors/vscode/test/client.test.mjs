// The built client (npm run compile) loads and exports what VS Code calls. VS Code is not
// here, so its API is a stand-in; what this catches is a build whose imports do not resolve
// (vscode-languageclient/node under the module settings of tsconfig.json).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const built = join(dirname(fileURLToPath(import.meta.url)), "..", "out", "extension.js");

test("the built client loads and exports activate and deactivate", { skip: !existsSync(built) && "run npm run compile first" }, () => {
  const anything = new Proxy(function () {}, {
    get: (target, key) => (key === "version" ? "1.91.0" : anything),
    apply: () => anything,
    construct: () => anything,
  });
  const load = Module._load;
  Module._load = function (request, ...rest) {
    return request === "vscode" ? anything : load.call(this, request, ...rest);
  };
  try {
    const extension = createRequire(import.meta.url)(built);
    assert.equal(typeof extension.activate, "function");
    assert.equal(typeof extension.deactivate, "function");
  } finally {
    Module._load = load;
  }
});
