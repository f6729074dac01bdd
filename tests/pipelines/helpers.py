"""Helpers shared by the pipeline tests."""


def ids(tokenizer, text):
    """The token ids of one text, as a list."""
    return tokenizer.tokenize([text]).to_list()[0]
