"""Use cases, one module each, handed their ports as Protocols."""
