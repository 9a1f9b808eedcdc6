// The VS Code client of the ctsdsl policy language server: it starts `ctsdsl lsp` and hands
// it the .cts documents. Everything the editor shows beyond highlighting comes from the server.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverOptions(): { options: ServerOptions; commandLine: string } {
  const config = vscode.workspace.getConfiguration("ctsdsl");
  const command = config.get<string>("server.command", "ctsdsl") || "ctsdsl";
  const args = config.get<string[]>("server.args", ["lsp"]);
  return { options: { command, args, transport: TransportKind.stdio }, commandLine: [command, ...args].join(" ") };
}

async function start(): Promise<void> {
  const { options, commandLine } = serverOptions();
  const policies = vscode.workspace.getConfiguration("ctsdsl").get<string>("policies", "");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "ctsdsl" },
      { scheme: "untitled", language: "ctsdsl" },
    ],
    initializationOptions: policies ? { policies } : {},
  };
  client = new LanguageClient("ctsdsl", "ctsdsl policy language server", options, clientOptions);
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    // The usual cause is a ctsdsl without the extra, or not on the PATH VS Code was started with.
    void vscode.window.showErrorMessage(
      `ctsdsl: could not start the language server with "${commandLine}": ${error}. ` +
        "Install it with pip install 'ctsdsl[lsp]', or set ctsdsl.server.command to the ctsdsl of your virtual environment.",
    );
  }
}

async function restart(): Promise<void> {
  const running = client;
  client = undefined;
  await running?.stop();
  await start();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("ctsdsl.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("ctsdsl")) {
        void restart();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
