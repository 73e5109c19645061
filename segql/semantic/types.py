"""The language's value types, as the resolver and the registry name them."""

NUMBER, STRING, BOOLEAN, DATE, TIMESTAMP = "number", "string", "boolean", "date", "timestamp"
NULL, ANY, DURATION = "null", "any", "duration"
TIMELIKE = (DATE, TIMESTAMP)
