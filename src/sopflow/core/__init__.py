"""Pure core: parsing, validation, the state machine. No git, terminal, clock or environment."""
