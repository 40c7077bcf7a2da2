-- The Hearth server for `vim.lsp.enable('hearth')` (0.11+), for users who want the server
-- without the plugin's setup(). require('hearth').setup() configures the same name itself.
return {
  cmd = { 'hearth', 'serve' },
  root_markers = { 'hearth.toml', '.git', '.hg', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
  capabilities = {
    textDocument = { inlineCompletion = { dynamicRegistration = false } },
  },
}
