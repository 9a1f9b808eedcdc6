// The TextMate grammar tokenizes real policies as VS Code does (vscode-textmate on the
// Oniguruma regex engine VS Code uses), so a pattern that parses but scopes wrongly fails here.
// Run with `npm test`; tests/test_editors.py runs it too when node_modules is installed.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const textmate = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const grammarPath = join(here, "..", "syntaxes", "ctsdsl.tmLanguage.json");

async function loadGrammar() {
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.ctsdsl"
        ? textmate.parseRawGrammar(readFileSync(grammarPath, "utf-8"), grammarPath)
        : null,
  });
  return registry.loadGrammar("source.ctsdsl");
}

const grammarPromise = loadGrammar();

// Every token of a text: its text and its innermost scope, line by line.
async function tokenize(text) {
  const grammar = await grammarPromise;
  let stack = textmate.INITIAL;
  const tokens = [];
  for (const line of text.split("\n")) {
    const result = grammar.tokenizeLine(line, stack);
    for (const token of result.tokens) {
      tokens.push({ text: line.slice(token.startIndex, token.endIndex), scopes: token.scopes });
    }
    stack = result.ruleStack;
  }
  return tokens;
}

function scopeOf(tokens, text) {
  const found = tokens.find((token) => token.text === text);
  assert.ok(found, `no token ${JSON.stringify(text)}`);
  return found.scopes;
}

function policyFiles(folder) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? policyFiles(join(folder, entry.name))
      : entry.name.endsWith(".cts") ? [join(folder, entry.name)] : [],
  );
}

test("each part of a rule gets its scope", async () => {
  const tokens = await tokenize(
    [
      "# a comment with rule and $5 in it",
      "override rule short_session {",
      '  applies to line where line.code == "97550" and line.units > 2',
      "  when claim.date_of_service >= 2024-03-09 and fees[line.code].amount < $32.74 * 0.85",
      '  message "{line.code} needs {dollars(max_fee)}; {{literal}} and \\"quoted\\""',
      "}",
      "param kx: money = -$2.50 cites cms",
    ].join("\n"),
  );
  assert.deepEqual(scopeOf(tokens, " a comment with rule and $5 in it").slice(1), ["comment.line.number-sign.ctsdsl"]);
  assert.ok(scopeOf(tokens, "override").includes("storage.modifier.override.ctsdsl"));
  assert.ok(scopeOf(tokens, "rule").includes("keyword.declaration.ctsdsl"));
  assert.ok(scopeOf(tokens, "short_session").includes("entity.name.function.ctsdsl"));
  assert.ok(scopeOf(tokens, "applies").includes("keyword.other.ctsdsl"));
  assert.ok(scopeOf(tokens, "line").includes("variable.language.ctsdsl"));
  assert.ok(scopeOf(tokens, "units").includes("variable.other.property.ctsdsl"), "a field spelt like a keyword");
  assert.ok(scopeOf(tokens, "amount").includes("variable.other.property.ctsdsl"), "a column spelt like a keyword");
  assert.ok(scopeOf(tokens, "2024-03-09").includes("constant.numeric.date.ctsdsl"));
  assert.ok(scopeOf(tokens, "$32.74").includes("constant.numeric.money.ctsdsl"));
  assert.ok(scopeOf(tokens, "$2.50").includes("constant.numeric.money.ctsdsl"));
  assert.ok(scopeOf(tokens, "0.85").includes("constant.numeric.decimal.ctsdsl"));
  assert.ok(scopeOf(tokens, ">=").includes("keyword.operator.comparison.ctsdsl"));
  assert.ok(scopeOf(tokens, "money").includes("support.type.ctsdsl"));
  assert.ok(scopeOf(tokens, "dollars").includes("support.function.builtin.ctsdsl"));
  assert.ok(scopeOf(tokens, "dollars").includes("meta.interpolation.ctsdsl"), "a hole holds an expression");
  assert.ok(scopeOf(tokens, "{{").includes("constant.character.escape.brace.ctsdsl"));
  assert.ok(scopeOf(tokens, '"97550"'.slice(1, -1)).includes("string.quoted.double.ctsdsl"));
  const last = tokens.filter((token) => token.text === "}").pop();
  assert.ok(last && !last.scopes.includes("string.quoted.double.ctsdsl"), "the string ended on its own line");
});

test("in every bundled and test policy, comments are comments and nothing stays open past a line", async () => {
  const files = [...policyFiles(join(repo, "policies")), ...policyFiles(join(repo, "tests", "fixtures", "lsp"))];
  assert.ok(files.length >= 5, "the policies were found");
  const grammar = await grammarPromise;
  for (const file of files) {
    let stack = textmate.INITIAL;
    const lines = readFileSync(file, "utf-8").split("\n");
    lines.forEach((line, number) => {
      const result = grammar.tokenizeLine(line, stack);
      stack = result.ruleStack;
      const where = `${file}:${number + 1}`;
      // Strings (and the holes in them) stay on one line in the language: nothing may run on.
      assert.equal(stack.depth, 1, `${where} leaves ${JSON.stringify(result.tokens.at(-1)?.scopes)} open`);
      if (line.trimStart().startsWith("#")) {
        const scoped = result.tokens.filter((token) => line.slice(token.startIndex, token.endIndex).trim());
        assert.ok(scoped.every((token) => token.scopes.includes("comment.line.number-sign.ctsdsl")), where);
      }
      for (const token of result.tokens) {
        const text = line.slice(token.startIndex, token.endIndex);
        if (/^\$[0-9]/.test(text)) {
          assert.ok(token.scopes.some((s) => /money|string|comment/.test(s)), `${where}: ${text} is money`);
        }
        if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) {
          assert.ok(token.scopes.some((s) => /date|string|comment/.test(s)), `${where}: ${text} is a date`);
        }
      }
    });
  }
});
