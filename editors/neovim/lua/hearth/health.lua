--- :checkhealth hearth — Neovim version and suggestion path, the server command and its
--- version, the model (asked of the running server) and the index state.
local M = {}

local health = vim.health

function M.check()
  local hearth = require('hearth')
  local server = require('hearth.server')
  health.start('Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') ~= 1 then
    health.error('Neovim ' .. version .. ' is too old: Hearth needs 0.10 or newer')
    return
  end
  if require('hearth.native').available() then
    health.ok(('Neovim %s: inline suggestions can use vim.lsp.inline_completion'):format(version))
  else
    health.ok(('Neovim %s: inline suggestions use the plugin\'s ghost text (vim.lsp.inline_completion arrives in 0.12)'):format(version))
  end
  if not hearth.opts then
    health.warn("setup() has not run", { "Call require('hearth').setup({}) in your config" })
    return
  end
  health.info('suggestions: ' .. (hearth.is_enabled() and 'on' or 'off') .. ', via ' .. hearth.mode())

  health.start('Server')
  local cmd, err = server.command(hearth.opts)
  if not cmd then
    health.error(err)
    return
  end
  local out = vim.fn.system({ cmd[1], '--version' })
  if vim.v.shell_error ~= 0 then
    health.error(('`%s --version` failed: %s'):format(cmd[1], vim.trim(out)))
    return
  end
  health.ok(('%s (%s)'):format(vim.trim(out), table.concat(cmd, ' ')))

  local client = server.client(0) or server.clients()[1]
  if not client then
    health.warn('no Hearth server runs yet', { 'Open a file (the server starts with the first one)', ':HearthLog says why a buffer was skipped' })
    return
  end
  health.ok(('running: client %d, root %s'):format(client.id, client.root_dir or '(single file)'))
  local status, serr = hearth.server_status(5000)
  if not status then
    health.error(serr)
    return
  end

  health.start('Model')
  local model = status.model
  if type(model) ~= 'table' then
    health.warn('the server does not report a model state (an older hearth?)')
  else
    local what = model.path ~= nil and model.path ~= vim.NIL and model.path or '(default model)'
    local msg = model.message ~= nil and model.message ~= vim.NIL and (': ' .. model.message) or ''
    if model.state == 'ready' then
      health.ok(('%s loaded (%s)'):format(what, model.backend ~= vim.NIL and model.backend or 'backend ?'))
    elseif model.state == 'loading' or model.state == 'off' then
      health.info(('%s %s%s'):format(what, model.state, msg))
    else
      health.error(('%s: %s%s'):format(what, tostring(model.state), msg), { 'Run `hearth doctor` in a shell', 'Set `model` in setup() or hearth.toml' })
    end
  end

  health.start('Index')
  local index = status.index
  if type(index) ~= 'table' then
    health.info('no index state reported')
  elseif index.state == 'error' then
    health.error('index: ' .. tostring(index.message or index.state))
  else
    health.ok('index: ' .. tostring(index.state))
  end
end

return M
