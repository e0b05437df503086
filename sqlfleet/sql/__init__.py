"""Pure SQL builders. Every identifier from a catalog or a source goes through ``quote_identifier``."""

from sqlfleet.sql.identifiers import qualified_name, quote_identifier, quote_literal

__all__ = ["qualified_name", "quote_identifier", "quote_literal"]
