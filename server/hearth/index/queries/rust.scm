; Rust: functions (methods inside `impl` and `trait`), structs, unions, enums, traits, type
; aliases, consts and statics, inline modules, macro_rules; `impl` blocks open a scope named
; after their type; imports are `use` paths, `extern crate` and `mod x;` declarations.

(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.trait
(type_item name: (type_identifier) @name) @definition.type
(associated_type name: (type_identifier) @name) @definition.type
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(mod_item name: (identifier) @name body: (declaration_list)) @definition.module
(macro_definition name: (identifier) @name) @definition.function

(impl_item
  type: [
    (type_identifier) @scope.name
    (generic_type type: [(type_identifier) @scope.name (scoped_type_identifier name: (type_identifier) @scope.name)])
    (scoped_type_identifier name: (type_identifier) @scope.name)
    (reference_type type: [(type_identifier) @scope.name (generic_type type: (type_identifier) @scope.name)])
  ]) @scope.impl

(use_declaration argument: [(identifier) (scoped_identifier) (crate) (self) (super)] @import.spec) @import
(use_declaration argument: (use_as_clause path: (_) @import.spec)) @import
(use_declaration argument: (use_wildcard [(identifier) (scoped_identifier) (crate) (self) (super)] @import.spec "*" @import.name)) @import
(use_declaration argument: (scoped_use_list path: (_) @import.spec)) @import
(use_declaration
  argument: (scoped_use_list
    list: (use_list
      [
        (identifier) @import.name
        (self) @import.name
        (scoped_identifier) @import.name
        (use_as_clause path: (_) @import.name)
        (scoped_use_list path: (_) @import.name)
        (use_wildcard) @import.name
      ]))) @import
(extern_crate_declaration name: (identifier) @import.spec) @import
(mod_item name: (identifier) @import.mod !body) @import
