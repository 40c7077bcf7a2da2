; Go: functions, methods (qualified by their receiver type), structs, interfaces (with their
; method specs), other named types and aliases, constants, imports.

(function_declaration name: (identifier) @name) @definition.function

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @receiver
        (generic_type type: (type_identifier) @receiver)
        (pointer_type [(type_identifier) @receiver (generic_type type: (type_identifier) @receiver)])
      ]))
  name: (field_identifier) @name) @definition.method

(type_spec name: (type_identifier) @name type: (struct_type (field_declaration_list) @body)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(method_elem name: (field_identifier) @name) @definition.method
(type_spec
  name: (type_identifier) @name
  type: [
    (type_identifier) (qualified_type) (generic_type) (function_type) (map_type) (slice_type)
    (array_type) (pointer_type) (channel_type)
  ]) @definition.type
(type_alias name: (type_identifier) @name) @definition.type

(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))

(import_spec path: (interpreted_string_literal) @import.spec) @import
(import_spec path: (raw_string_literal) @import.spec) @import
