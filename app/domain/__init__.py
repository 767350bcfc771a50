"""Pure domain: dataclasses, enums, state machines and rules. No I/O."""
