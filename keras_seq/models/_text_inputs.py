"""Helpers shared by the models that take raw strings."""

import tensorflow as tf


class FunctionCache:
    """Compiled `tf.function`s by setting. Not a dict: TensorFlow wraps and tracks dict
    attributes of a model, then refuses to save it (tuple keys)."""

    def __init__(self):
        self._functions = {}

    def compiled(self, key, function, input_signature):
        """The `tf.function` (``autograph=False``) of ``function`` over ``input_signature``
        kept for ``key``: made at the first request of ``key``, reused after (``function``
        is then not used, so it must depend on nothing but what ``key`` holds)."""
        if key not in self._functions:
            self._functions[key] = tf.function(
                function, input_signature=input_signature, autograph=False
            )
        return self._functions[key]

    def wrapped(self, key, make):
        """The object ``make()`` returns, made at the first request of ``key`` and kept (a
        wrapper of the function `compiled` keeps for ``key``: one identity per setting)."""
        key = ("wrapped", key)
        if key not in self._functions:
            self._functions[key] = make()
        return self._functions[key]


def check_texts(texts, argument="texts"):
    """A list of str from a str or an iterable of str; clear errors otherwise."""
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"`{argument}` must be a string or a list of strings, got {texts!r:.100}.")
    if not texts:
        raise ValueError(f"`{argument}` is empty: give at least one string.")
    wrong = [t for t in texts if not isinstance(t, str)]
    if wrong:
        raise TypeError(f"`{argument}` must hold strings, got {wrong[0]!r:.100}.")
    return list(texts)
