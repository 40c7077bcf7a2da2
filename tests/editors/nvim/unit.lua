-- Plugin logic without a server: `nvim --headless --clean -n -l unit.lua PLUGIN_DIR`.
-- Prints one line per failed check and exits non-zero when any failed.
vim.opt.rtp:prepend(_G.arg[1])
local failures = 0
local function eq(got, want, what)
  if not vim.deep_equal(got, want) then
    failures = failures + 1
    io.stdout:write(('FAIL %s: got %s, want %s\n'):format(what, vim.inspect(got), vim.inspect(want)))
  end
end

local text = require('hearth.text')
for _, case in ipairs({
  { 'foo(bar)', 'foo' },
  { '  foo bar', '  foo' },
  { '(bar)', '(' },
  { '.append(x)', '.' },
  { '\n    return x', '\n    ' },
  { '   ', '   ' },
  { '', '' },
  { 'héllo wörld', 'héllo' },
}) do
  eq(text.next_word(case[1]), case[2], 'next_word ' .. vim.inspect(case[1]))
end
for _, case in ipairs({
  { 'a + b\n    return c', 'a + b' },
  { '\n    return c\nmore', '\n    return c' },
  { 'x', 'x' },
  { '', '' },
}) do
  eq(text.next_line(case[1]), case[2], 'next_line ' .. vim.inspect(case[1]))
end
eq(text.byte_col('aé€b', 3, 'utf-16'), 6, 'byte_col utf-16')
eq(text.byte_col('a😀b', 3, 'utf-16'), 5, 'byte_col utf-16 surrogate pair')
eq(text.byte_col('a😀b', 2, 'utf-32'), 5, 'byte_col utf-32')
eq(text.byte_col('abc', 2, 'utf-8'), 2, 'byte_col utf-8')
eq(text.plain({ kind = 'snippet', value = 'foo(${1:x})$0' }), 'foo(x)', 'snippet to plain text')
eq(text.item_id({ command = { command = 'c', arguments = { { id = 'abc' } } } }), 'abc', 'id from command')
eq(text.item_id({ data = { id = 7 } }), '7', 'id from data')
eq(text.item_id({}), nil, 'no id')

local config = require('hearth.config')
local opts, err = config.resolve({ suggestion = { keymaps = { accept = '<Tab>', next = false } }, max_tokens = 32 })
eq(err, nil, 'valid options')
eq(opts and opts.suggestion.keymaps.accept, '<Tab>', 'keymap override')
eq(opts and opts.suggestion.keymaps.next, false, 'keymap off')
eq(opts and opts.suggestion.keymaps.dismiss, '<C-]>', 'default kept')
eq(config.server_settings(opts or {}), { maxTokens = 32 }, 'server settings camelCase')
local _, e1 = config.resolve({ suggestion = { keymap = {} } })
eq(e1 and e1:match('suggestion%.keymap') ~= nil, true, 'unknown nested option named by its dotted path: ' .. tostring(e1))
local _, e2 = config.resolve({ max_tokens = 'lots' })
eq(e2 and e2:match('max_tokens') ~= nil, true, 'bad server setting type: ' .. tostring(e2))
local _, e3 = config.resolve({ explain = { window = 'tab' } })
eq(e3 and e3:match('explain%.window') ~= nil, true, 'bad explain.window: ' .. tostring(e3))
local o4 = config.resolve({ some_new_setting = 3, settings = { topK = 5 } })
eq(o4 and config.server_settings(o4), { some_new_setting = 3, topK = 5 }, 'unknown scalar passes to the server')

local server = require('hearth.server')
local cmd, e5 = server.command(config.resolve({ server = { path = '/nonexistent/hearth' } }))
eq(cmd, nil, 'missing server path')
eq(e5 and e5:match('pipx install hearth') ~= nil, true, 'install hint: ' .. tostring(e5))
local saved_path = vim.env.PATH
vim.env.PATH = '/nonexistent'
local cmd2, e6 = server.command(config.resolve({}))
vim.env.PATH = saved_path
eq(cmd2, nil, 'hearth not on PATH')
eq(e6 and e6:match('not on %$PATH') ~= nil, true, 'PATH message: ' .. tostring(e6))

-- setup() with a bad option reports it and starts nothing.
local notified = {}
vim.notify = function(msg)
  notified[#notified + 1] = msg
end
require('hearth').setup({ suggestion = { enabled = 'yes' } })
eq(notified[1] and notified[1]:match('suggestion%.enabled') ~= nil, true, 'setup error: ' .. tostring(notified[1]))
-- Commands exist after setup (and from plugin/hearth.lua).
require('hearth').create_commands()
for _, name in ipairs({ 'HearthExplain', 'HearthReview', 'HearthToggle', 'HearthStatus', 'HearthLog' }) do
  eq(vim.fn.exists(':' .. name), 2, 'command ' .. name)
end

if failures > 0 then
  os.exit(1)
end
io.stdout:write('ok\n')
