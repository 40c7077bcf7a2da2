; JavaScript (and JSX): functions, classes, methods (object literal methods too), functions
; bound to names, top-level `const` bindings, imports (import/export-from/require/import()).

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (identifier) @name) @definition.class
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method

; Class fields holding functions: `handle = () => {}`.
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]) @definition.method

; Functions bound to a name: `const f = () => {}`, `let g = function () {}`.
(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)
  ]) @definition.function

; `exports.f = function () {}`, `Foo.prototype.bar = () => {}` at the top level.
(program
  (expression_statement
    (assignment_expression
      left: (member_expression property: (property_identifier) @name)
      right: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])
    @definition.function))

; Top-level `const` bindings that are not functions, classes or require() calls.
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [
        (string) (template_string) (number) (regex) (true) (false) (null) (object) (array)
        (identifier) (member_expression) (binary_expression) (unary_expression)
        (new_expression) (await_expression) (call_expression function: (member_expression))
      ]) @definition.constant))
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: (call_expression function: (identifier) @_callee)) @definition.constant)
  (#not-eq? @_callee "require"))
(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [
          (string) (template_string) (number) (regex) (true) (false) (null) (object) (array)
          (identifier) (member_expression) (binary_expression) (unary_expression)
          (new_expression) (await_expression) (call_expression)
        ]) @definition.constant)))

(import_statement source: (string (string_fragment) @import.spec)) @import
(import_statement
  (import_clause (named_imports (import_specifier name: (identifier) @import.name)))) @import
(import_statement (import_clause (identifier) @import.name)) @import
(import_statement (import_clause (namespace_import "*" @import.name))) @import
(export_statement source: (string (string_fragment) @import.spec)) @import
(export_statement
  (export_clause (export_specifier name: (identifier) @import.name))
  source: (string)) @import

(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.spec) .)
  (#eq? @_require "require")) @import
(variable_declarator
  name: (object_pattern
    [
      (shorthand_property_identifier_pattern) @import.name
      (pair_pattern key: (property_identifier) @import.name)
    ])
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string) .)) @import
  (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @import.spec))) @import
