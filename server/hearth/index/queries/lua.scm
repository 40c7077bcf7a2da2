; Lua: functions (`function M.f` is qualified by its table, `function M:f` is a method),
; functions bound to a local or a table field; imports are require("x") / require "x".

(function_declaration name: (identifier) @name) @definition.function
(function_declaration name: (dot_index_expression table: (_) @receiver field: (identifier) @name)) @definition.function
(function_declaration name: (method_index_expression table: (_) @receiver method: (identifier) @name)) @definition.method
(variable_declaration
  (assignment_statement
    (variable_list . name: (identifier) @name .)
    (expression_list . value: (function_definition body: (_)? @body) .))) @definition.function
(assignment_statement
  (variable_list . name: (dot_index_expression table: (_) @receiver field: (identifier) @name) .)
  (expression_list . value: (function_definition body: (_)? @body) .)) @definition.function

(function_call
  name: (identifier) @_require
  arguments: [
    (arguments . (string content: (string_content) @import.spec) .)
    (string content: (string_content) @import.spec)
  ]
  (#eq? @_require "require")) @import
