; PHP: functions, classes, interfaces, traits, enums, methods, block namespaces, constants
; (`const` and define()), imports (`use`, grouped `use`, require/include of a literal path).

(function_definition name: (name) @name) @definition.function
(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.trait
(enum_declaration name: (name) @name) @definition.enum
(method_declaration name: (name) @name) @definition.method
(namespace_definition name: (namespace_name) @name body: (compound_statement)) @definition.module
(const_declaration (const_element (name) @name) @definition.constant)
(function_call_expression
  function: (name) @_define
  arguments: (arguments . (argument [(string (string_content) @name) (encapsed_string (string_content) @name)]))
  (#eq? @_define "define")) @definition.constant

(namespace_use_declaration (namespace_use_clause . [(qualified_name) (name)] @import.spec)) @import
(namespace_use_declaration
  (namespace_name) @import.spec
  body: (namespace_use_group (namespace_use_clause . [(name) (qualified_name)] @import.name))) @import

(require_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)]) @import
(require_once_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)]) @import
(include_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)]) @import
(include_once_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)]) @import
(require_expression (parenthesized_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)])) @import
(require_once_expression (parenthesized_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)])) @import
(include_expression (parenthesized_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)])) @import
(include_once_expression (parenthesized_expression [(string (string_content) @import.spec) (encapsed_string (string_content) @import.spec)])) @import
