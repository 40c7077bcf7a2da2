--- Hearth for Neovim: private, local AI completion, Explain and Review from `hearth serve`.
---
--- require('hearth').setup({ model = '~/models/qwen2.5-coder-1.5b-q8_0.gguf' })
---
--- Inline suggestions use Neovim's vim.lsp.inline_completion on 0.12+, and the plugin's own
--- ghost text on 0.10/0.11; the functions below work the same on both.
local config = require('hearth.config')
local server = require('hearth.server')
local log = require('hearth.log')

local M = {}

M.opts = nil ---@type table|nil resolved options, set by setup()
local enabled = false

--- The suggestion engine in use: 'native' (vim.lsp.inline_completion) or 'ghost' (the plugin's).
---@return 'native'|'ghost'
function M.mode()
  local want = M.opts and M.opts.suggestion.native or 'auto'
  local native = require('hearth.native')
  if want == true or (want == 'auto' and native.available()) then
    return native.available() and 'native' or 'ghost'
  end
  return 'ghost'
end

local function engine()
  return M.mode() == 'native' and require('hearth.native') or require('hearth.ghost')
end

local function start_suggestions()
  if M.mode() == 'native' then
    require('hearth.native').enable()
  else
    require('hearth.ghost').enable(M.opts)
  end
  enabled = true
end

local function stop_suggestions()
  if M.mode() == 'native' then
    require('hearth.native').disable()
  else
    require('hearth.ghost').disable()
  end
  enabled = false
end

--- Accept the whole suggestion. Returns false when none shows (for fallback mappings).
---@return boolean
function M.accept()
  return engine().accept('all')
end

--- Accept the next word of the suggestion; the rest stays shown.
---@return boolean
function M.accept_word()
  return engine().accept('word')
end

--- Accept the rest of the current line of the suggestion.
---@return boolean
function M.accept_line()
  return engine().accept('line')
end

--- Hide the suggestion (and cancel a pending request).
---@return boolean
function M.dismiss()
  return engine().dismiss()
end

--- Show the next candidate (or ask for suggestions when none shows).
function M.next()
  engine().cycle(1)
end

--- Show the previous candidate.
function M.prev()
  engine().cycle(-1)
end

--- Whether a suggestion shows in the current buffer.
---@return boolean
function M.visible()
  return engine().visible() == true
end

--- Whether suggestions are on.
function M.is_enabled()
  return enabled
end

--- Turn inline suggestions off or on (Explain and Review keep working).
---@param on? boolean nil toggles
function M.toggle(on)
  if on == nil then
    on = not enabled
  end
  if on and not enabled then
    start_suggestions()
  elseif not on and enabled then
    stop_suggestions()
  end
  vim.notify('Hearth: suggestions ' .. (enabled and 'on' or 'off'), vim.log.levels.INFO)
end

function M.explain(line1, line2)
  require('hearth.assist').explain(line1, line2, M.opts)
end

function M.review(line1, line2)
  require('hearth.assist').review(line1, line2, M.opts)
end

--- The server's hearth/status for the current buffer's client (synchronous), or nil and why.
---@param timeout_ms? integer
---@return table|nil status, string|nil err
function M.server_status(timeout_ms)
  local client = server.client(0) or server.clients()[1]
  if not client then
    return nil, 'no Hearth server is running (open a file, or see :HearthLog)'
  end
  local resp, err = server.request_sync(client, 'hearth/status', vim.empty_dict(), timeout_ms or 2000, 0)
  if not resp then
    return nil, 'hearth/status: ' .. tostring(err)
  end
  if resp.err then
    return nil, 'hearth/status: ' .. (resp.err.message or vim.inspect(resp.err))
  end
  return resp.result
end

--- Lines describing the plugin and the server state (for :HearthStatus).
function M.status_lines()
  local v = vim.version()
  local lines = {
    '# Hearth',
    '',
    ('- Neovim %d.%d.%d; suggestions: %s (%s)'):format(v.major, v.minor, v.patch, enabled and 'on' or 'off',
      M.mode() == 'native' and 'vim.lsp.inline_completion' or "the plugin's ghost text"),
  }
  local client = server.client(0) or server.clients()[1]
  if not client then
    lines[#lines + 1] = '- server: not running in this buffer (see :HearthLog)'
    return lines
  end
  local info = client.server_info or {}
  lines[#lines + 1] = ('- server: %s %s, root %s'):format(info.name or 'hearth', info.version or '?',
    client.root_dir or '(single file)')
  local status, err = M.server_status()
  if not status then
    lines[#lines + 1] = '- status: ' .. err
    return lines
  end
  local model = status.model
  if type(model) == 'table' then
    lines[#lines + 1] = ('- model: %s%s%s'):format(model.state or '?',
      model.path and model.path ~= vim.NIL and (' — ' .. model.path) or '',
      model.message and model.message ~= vim.NIL and (' (' .. model.message .. ')') or '')
  end
  local index = status.index
  if type(index) == 'table' then
    local parts = {}
    for k, val in vim.spairs(index) do
      if type(val) ~= 'table' and val ~= vim.NIL then
        parts[#parts + 1] = ('%s=%s'):format(k, tostring(val))
      end
    end
    lines[#lines + 1] = '- index: ' .. table.concat(parts, ', ')
  end
  if status.busy ~= nil then
    lines[#lines + 1] = '- busy: ' .. tostring(status.busy)
  end
  return lines
end

function M.show_status()
  require('hearth.window').open({ title = 'Hearth: Status', lines = M.status_lines() })
end

function M.show_log()
  local lines = { '# Hearth plugin log', '' }
  vim.list_extend(lines, log.lines())
  local path = vim.lsp.get_log_path()
  lines[#lines + 1] = ''
  lines[#lines + 1] = '# Server lines of the LSP log (' .. path .. ')'
  lines[#lines + 1] = ''
  local ok, file_lines = pcall(vim.fn.readfile, path, '', -2000)
  if ok then
    for _, line in ipairs(file_lines) do
      if line:find('hearth', 1, true) then
        lines[#lines + 1] = line
      end
    end
  end
  require('hearth.window').open({ title = 'Hearth: Log', kind = 'split', filetype = 'log', lines = lines })
end

--- Define the :Hearth* commands (also done by plugin/hearth.lua; idempotent).
function M.create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('HearthExplain', function(a)
    M.explain(a.line1, a.line2)
  end, { range = true, desc = 'Hearth: explain the selected lines (or the current one)' })
  cmd('HearthReview', function(a)
    local line1, line2 = a.line1, a.line2
    if a.range == 0 then
      line1, line2 = 1, vim.api.nvim_buf_line_count(0)
    end
    M.review(line1, line2)
  end, { range = true, desc = 'Hearth: review the selected lines (or the whole buffer)' })
  cmd('HearthToggle', function()
    M.toggle()
  end, { desc = 'Hearth: turn inline suggestions on or off' })
  cmd('HearthStatus', function()
    M.show_status()
  end, { desc = 'Hearth: server, model and index state' })
  cmd('HearthLog', function()
    M.show_log()
  end, { desc = "Hearth: the plugin's log and the server's lines of the LSP log" })
end

--- Default insert-mode keys; a key that is already mapped is left to its owner.
local function set_keymaps(keymaps)
  local actions = {
    accept = M.accept,
    accept_word = M.accept_word,
    accept_line = M.accept_line,
    dismiss = M.dismiss,
    next = M.next,
    prev = M.prev,
  }
  for name, lhs in pairs(keymaps) do
    local fn = actions[name]
    if fn and lhs and lhs ~= '' then
      if vim.fn.maparg(lhs, 'i') ~= '' then
        log.add('keymap %s: %s is already mapped in insert mode; left alone', name, lhs)
      else
        local fallback = vim.api.nvim_replace_termcodes(lhs, true, false, true)
        vim.keymap.set('i', lhs, function()
          if name == 'next' or name == 'prev' or M.visible() then
            vim.schedule(fn)
            return ''
          end
          return fallback
        end, { expr = true, silent = true, desc = 'Hearth: ' .. name:gsub('_', ' ') })
      end
    end
  end
end

--- Configure and start Hearth. See :help hearth-options.
---@param user_opts? table
function M.setup(user_opts)
  local opts, err = config.resolve(user_opts)
  if not opts then
    vim.notify(err, vim.log.levels.ERROR)
    return
  end
  if M.opts and enabled then
    stop_suggestions()
  end
  M.opts = opts
  vim.api.nvim_set_hl(0, 'HearthSuggestion', { link = 'Comment', default = true })
  M.create_commands()
  local ok, start_err = server.enable(opts)
  if not ok then
    vim.notify('Hearth: ' .. start_err, vim.log.levels.WARN)
    return
  end
  if opts.suggestion.enabled then
    start_suggestions()
  end
  set_keymaps(opts.suggestion.keymaps)
end

return M
