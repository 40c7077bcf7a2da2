-- Word and line accept: each inserts the next word / the rest of the line of the suggestion,
-- and the rest stays shown.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')
local text = require('hearth.text')

C.wait_ready()
C.type_at_end(vim.env.HEARTH_TEST_TYPE or '    result = ')
C.wait_suggestion('ghost')

local function partial(kind, fn)
  local before
  H.step(kind .. ' accept', function()
    local ghost = require('hearth.ghost').current_text()
    local part = kind == 'word' and text.next_word(ghost) or text.next_line(ghost)
    before = H.text()
    H.note(kind .. '_ghost', ghost)
    H.note(kind .. '_part', part)
    H.note(kind .. '_expected', C.expected_after_insert(part))
    H.note(kind .. '_expected_rest', ghost:sub(#part + 1))
    H.note(kind .. '_returned', fn())
    return true
  end)
  H.step(kind .. ' applied', function()
    if H.text() == before then
      return false
    end
    H.note(kind .. '_after', H.text())
    H.note(kind .. '_rest', require('hearth.ghost').current_text() or '')
    return true
  end)
end

partial('word', require('hearth').accept_word)
partial('line', require('hearth').accept_line)
