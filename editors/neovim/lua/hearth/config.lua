--- Options: defaults, validation with dotted names, and the settings sent to the server.
---
--- Server settings are accepted at the top level of `setup()` under the names the server uses
--- (server/hearth/settings.py), so `max_tokens = 48` here is `max_tokens = 48` in hearth.toml.
--- `settings = {...}` passes anything else through unchanged (settings newer than this plugin).
local M = {}

--- Server setting names and their Lua types, checked here before the server sees them
--- (tests/editors/test_neovim.py checks each against server/hearth/settings.py). A scalar or
--- list option not named here and not a plugin option goes to the server as it is, so settings
--- newer than this list work; the server names any unknown one in a warning.
M.server_keys = {
  model = 'string',
  chat_model = 'string',
  backend = 'string',
  model_type = 'string',
  context_length = 'number',
  threads = 'number',
  batch_size = 'number',
  gpu_layers = 'number',
  fim_template = 'string',
  max_tokens = 'number',
  time_budget_ms = 'number',
  temperature = 'number',
  top_p = 'number',
  top_k = 'number',
  repeat_penalty = 'number',
  seed = 'number',
  index_max_file_bytes = 'number',
  index_exclude = 'table',
  index_secret_patterns = 'table',
  index_dir = 'string',
  chat_template = 'string',
  chat_max_tokens = 'number',
  chat_time_budget_ms = 'number',
  completion_enabled = 'boolean',
  completion_disabled_languages = 'table',
  multiline = 'string',
  debounce_ms = 'number',
  complete_in_comments = 'boolean',
  complete_in_strings = 'boolean',
  completion_fallback = 'string',
  context_budget_tokens = 'number',
  explicit_candidates = 'number',
}

---@class hearth.Options
M.defaults = {
  server = {
    --- Command that starts the server, e.g. { '/path/to/.venv/bin/hearth', 'serve' }.
    --- nil: `hearth` from `path` below, else from $PATH.
    cmd = nil,
    --- Path of the `hearth` executable (used when `cmd` is nil).
    path = nil,
    --- Markers of a workspace root, nearest first wins.
    root_markers = { 'hearth.toml', '.git', '.hg', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
    --- Filetypes to attach to; nil attaches to every file buffer not excluded below.
    filetypes = nil,
    exclude_filetypes = { 'help', 'gitcommit', 'gitrebase', 'hgcommit', 'svn', 'TelescopePrompt', 'qf' },
    --- Extra environment for the server process.
    env = nil,
  },
  --- Settings passed through to the server as they are (any key from the settings reference).
  settings = {},
  suggestion = {
    --- Show inline suggestions while typing in insert mode.
    enabled = true,
    --- 'auto': Neovim's own vim.lsp.inline_completion where it exists (0.12+), else the
    --- plugin's ghost text. true/false forces one or the other.
    native = 'auto',
    --- Wait this long after a keystroke before asking (milliseconds); the server has its own
    --- debounce and cancels stale work, this only saves messages while typing fast.
    debounce_ms = 30,
    --- Highlight group of the ghost text (linked to Comment unless you define it).
    hl_group = 'HearthSuggestion',
    --- Insert-mode keys; false disables one. A key that is already mapped in insert mode is left
    --- alone (so completion plugins keep theirs); when no suggestion shows, the key does what it
    --- did before.
    keymaps = {
      accept = '<M-l>',
      accept_word = '<M-w>',
      accept_line = '<M-j>',
      dismiss = '<C-]>',
      next = '<M-]>',
      prev = '<M-[>',
    },
  },
  explain = {
    --- 'float' or 'split' (a scratch split below).
    window = 'float',
  },
  review = {
    --- Also put the findings in the location list.
    loclist = false,
  },
}

--- Options whose default is nil (so absent from `defaults`) and the type they take.
local optional = {
  ['server.cmd'] = 'table',
  ['server.path'] = 'string',
  ['server.filetypes'] = 'table',
  ['server.env'] = 'table',
}

local function type_error(path, want, value)
  return ('hearth: option %s must be a %s, not %s'):format(path, want, vim.inspect(value))
end

--- Merge `user` into `out` (a copy of `defaults`), checking each key against the defaults'
--- shape; errors name the option by its dotted path (`suggestion.keymaps.accept`).
local function merge(defaults, user, prefix, out)
  for key, value in pairs(user) do
    local path = prefix == '' and key or (prefix .. '.' .. key)
    local default = defaults[key]
    local want = (prefix == '' and M.server_keys[key]) or optional[path]
    if prefix == 'settings' then
      out[key] = value
    elseif want then
      if type(value) ~= want then
        return nil, type_error(path, want, value)
      end
      out[key] = value
    elseif path == 'settings' then
      if type(value) ~= 'table' then
        return nil, type_error(path, 'table', value)
      end
      out.settings = vim.tbl_extend('force', out.settings, value)
    elseif default == nil and prefix == '' and key:match('^%l[%w_]*$')
      and (type(value) ~= 'table' or vim.islist(value)) then
      out.settings[key] = value -- a server setting newer than this plugin
    elseif default == nil then
      local names = vim.tbl_keys(defaults)
      for name in pairs(prefix == '' and M.server_keys or {}) do
        names[#names + 1] = name
      end
      for name in pairs(optional) do
        if name:match('^(.*)%.') == prefix then
          names[#names + 1] = name:match('%.([^.]*)$')
        end
      end
      table.sort(names)
      return nil, ('hearth: unknown option %s (known here: %s)'):format(path, table.concat(names, ', '))
    elseif type(default) == 'table' and not vim.islist(default) and next(default) ~= nil then
      if type(value) ~= 'table' then
        return nil, type_error(path, 'table', value)
      end
      local ok, err = merge(default, value, path, out[key])
      if not ok then
        return nil, err
      end
    else
      -- A keymap may be false (off); `native` may be 'auto' or a boolean.
      local off = value == false and (prefix == 'suggestion.keymaps' or key == 'native')
      if not off and type(value) ~= type(default) and not (key == 'native' and type(value) == 'boolean') then
        return nil, type_error(path, type(default), value)
      end
      out[key] = value
    end
  end
  return out
end

--- Validated options: defaults with `user` on top.
---@param user table|nil
---@return table|nil opts, string|nil err
function M.resolve(user)
  local out = vim.deepcopy(M.defaults)
  local ok, err = merge(M.defaults, user or {}, '', out)
  if not ok then
    return nil, err
  end
  local native = out.suggestion.native
  if native ~= 'auto' and type(native) ~= 'boolean' then
    return nil, "hearth: option suggestion.native must be 'auto', true or false"
  end
  if out.explain.window ~= 'float' and out.explain.window ~= 'split' then
    return nil, "hearth: option explain.window must be 'float' or 'split'"
  end
  return out
end

local function camel(name)
  return (name:gsub('_(%l)', function(c)
    return c:upper()
  end))
end

--- The settings object the server receives (initializationOptions and section "hearth"),
--- camelCase like every editor's settings.
---@param opts table
---@return table
function M.server_settings(opts)
  local out = {}
  for key in pairs(M.server_keys) do
    if opts[key] ~= nil then
      out[camel(key)] = opts[key]
    end
  end
  for key, value in pairs(opts.settings or {}) do
    out[key] = value
  end
  return out
end

return M
