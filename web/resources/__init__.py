"""One resource class per entity; responders parse, call one function, answer."""
