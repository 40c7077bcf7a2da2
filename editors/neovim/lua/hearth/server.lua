--- Finding and starting `hearth serve`: vim.lsp.config + vim.lsp.enable on 0.11+, a FileType
--- autocmd with vim.lsp.start on 0.10. Also the one place that finds the client of a buffer.
local config = require('hearth.config')
local log = require('hearth.log')

local M = {}

M.name = 'hearth'

local has_011 = vim.fn.has('nvim-0.11') == 1

local INSTALL_HINT = 'install it with `pipx install hearth` (or `pip install .` in a clone of the '
  .. 'Hearth repository), or point the plugin at it: '
  .. "require('hearth').setup({ server = { cmd = { '/path/to/hearth', 'serve' } } })"

--- The command that starts the server, or nil and a message saying how to get one.
---@param opts table
---@return string[]|nil cmd, string|nil err
function M.command(opts)
  local server = opts.server
  if server.cmd then
    local exe = server.cmd[1]
    if not exe or vim.fn.executable(exe) ~= 1 then
      return nil, ('server.cmd: %s is not executable; %s'):format(tostring(exe), INSTALL_HINT)
    end
    return server.cmd
  end
  if server.path then
    if vim.fn.executable(server.path) ~= 1 then
      return nil, ('server.path: %s is not executable; %s'):format(server.path, INSTALL_HINT)
    end
    return { server.path, 'serve' }
  end
  local exe = vim.fn.exepath('hearth')
  if exe == '' then
    return nil, 'the `hearth` command is not on $PATH; ' .. INSTALL_HINT
  end
  return { exe, 'serve' }
end

--- Whether Hearth should attach to `bufnr`, and why not.
---@param opts table
---@param bufnr integer
---@return boolean ok, string|nil reason
function M.should_attach(opts, bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return false, 'buffer is gone'
  end
  if vim.bo[bufnr].buftype ~= '' then
    return false, ('buftype is %q (not a file)'):format(vim.bo[bufnr].buftype)
  end
  local ft = vim.bo[bufnr].filetype
  if opts.server.filetypes and not vim.tbl_contains(opts.server.filetypes, ft) then
    return false, ('filetype %q is not in server.filetypes'):format(ft)
  end
  if vim.tbl_contains(opts.server.exclude_filetypes, ft) then
    return false, ('filetype %q is in server.exclude_filetypes'):format(ft)
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return false, 'buffer has no file name'
  end
  return true
end

--- Capabilities: Neovim's own, plus inline completion (the plugin renders it on 0.10/0.11),
--- so the server does not fall back to textDocument/completion items.
local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  caps.window = caps.window or {}
  caps.window.workDoneProgress = true
  return caps
end

--- The vim.lsp config for Hearth (what a `lsp/hearth.lua` file would return).
---@param opts table
---@param cmd string[]
---@return table
function M.lsp_config(opts, cmd)
  local settings = config.server_settings(opts)
  return {
    name = M.name,
    cmd = cmd,
    cmd_env = opts.server.env,
    filetypes = opts.server.filetypes,
    root_markers = opts.server.root_markers,
    init_options = settings,
    settings = { hearth = settings },
    capabilities = capabilities(),
    root_dir = function(bufnr, on_dir)
      local ok, reason = M.should_attach(opts, bufnr)
      if not ok then
        log.add('not attaching to buffer %d (%s): %s', bufnr, vim.api.nvim_buf_get_name(bufnr), reason)
        return
      end
      on_dir(vim.fs.root(bufnr, opts.server.root_markers))
    end,
    on_attach = function(client, bufnr)
      log.add('attached to buffer %d (%s), client %d', bufnr, vim.api.nvim_buf_get_name(bufnr), client.id)
      if M.on_attach then
        M.on_attach(client, bufnr)
      end
    end,
    on_exit = function(code, signal)
      if code ~= 0 then
        log.add('server exited with code %d (signal %d); see :HearthLog', code, signal or 0)
        vim.schedule(function()
          vim.notify(('Hearth: the server exited with code %d; :HearthLog shows why'):format(code), vim.log.levels.WARN)
        end)
      end
    end,
  }
end

local autocmd_group = nil

--- Start Hearth for matching buffers from now on (lazy: the server starts with the first one).
---@param opts table
---@return boolean ok, string|nil err
function M.enable(opts)
  local cmd, err = M.command(opts)
  if not cmd then
    log.add('%s', err)
    return false, err
  end
  local cfg = M.lsp_config(opts, cmd)
  if vim.lsp.config and vim.lsp.enable and vim.fn.has('nvim-0.11') == 1 then
    vim.lsp.config(M.name, cfg)
    vim.lsp.enable(M.name)
    return true
  end
  -- 0.10: vim.lsp.start from a FileType autocmd; the root_dir function is resolved here.
  autocmd_group = vim.api.nvim_create_augroup('hearth.start', { clear = true })
  local function start(bufnr)
    cfg.root_dir(bufnr, function(root)
      local c = vim.deepcopy(cfg)
      c.root_dir = root
      vim.lsp.start(c, { bufnr = bufnr })
    end)
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = autocmd_group,
    callback = function(args)
      start(args.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype ~= '' then
      start(bufnr)
    end
  end
  return true
end

--- Stop the server and stop starting it.
function M.disable()
  if vim.lsp.enable and vim.fn.has('nvim-0.11') == 1 then
    pcall(vim.lsp.enable, M.name, false)
  end
  if autocmd_group then
    pcall(vim.api.nvim_del_augroup_by_id, autocmd_group)
    autocmd_group = nil
  end
  for _, client in ipairs(M.clients()) do
    if has_011 then
      client:stop()
    else
      client.stop()
    end
  end
end

---@param filter? table
---@return vim.lsp.Client[]
function M.clients(filter)
  filter = vim.tbl_extend('force', filter or {}, { name = M.name })
  return vim.lsp.get_clients(filter)
end

--- The Hearth client attached to `bufnr` (0: current), or nil.
---@param bufnr? integer
---@return vim.lsp.Client|nil
function M.client(bufnr)
  if not bufnr or bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  return M.clients({ bufnr = bufnr })[1]
end

-- Method-call helpers: 0.11 made these `client:method()`; 0.10 has `client.method()`.

function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.request_sync(client, method, params, timeout_ms, bufnr)
  if has_011 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  return client.request_sync(method, params, timeout_ms, bufnr)
end

function M.notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel(client, id)
  if has_011 then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

return M
