"""The code examples of README.md and docs/*.md run, and print or return what the text says.

Every ```python block of those files is run, in the namespace of the blocks before it in the
same file (as a reader runs them one after the other) and in a temporary working directory.
What a comment claims is checked, with ``...`` standing for any text:

- a ``print(...)`` call with a comment on its last line prints that comment's text;
- any other statement whose comment starts with ``->`` has that value (the expression's, or
  the assigned one's), as ``str`` or ``repr``.

Other comments are prose. An HTML comment right before the fence changes how a block runs:
``<!-- docs-test: DIRECTIVE; DIRECTIVE -->``, each directive one of

- ``skip (REASON)``: not run (a call signature, methods shown without their class);
- ``slow``: run only by the file's slow test (``make test-slow``), which runs every block of
  the file; the blocks that are not slow must not need it;
- ``setup NAME``: first enter `SETUPS[NAME]` (a model to export, a running server);
- ``replace OLD => NEW``: run the block with OLD replaced by NEW; NEW may hold ``{tmp}`` (the
  temporary directory) and the values a setup gives (``{url}``).
"""

import ast
import contextlib
import dataclasses
import io
import linecache
import re
import textwrap
import tokenize
import traceback
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- setups
@contextlib.contextmanager
def _classifier_model(namespace, tmp_path):
    """``model``: a built `SequenceClassifier` that reads raw text, ready to export."""
    from keras_seq.models import SequenceClassifier
    from keras_seq.text import WordTokenizer

    tokenizer = WordTokenizer.from_corpus(["the cat sat", "buy cheap pills now"])
    model = SequenceClassifier(
        ["ham", "spam"], embedding_dim=8, units=8, hidden_units=[], tokenizer=tokenizer
    )
    model(np.ones((1, 2), "int32"))
    namespace["model"] = model
    yield {}


@contextlib.contextmanager
def _demo_model(namespace, tmp_path):
    """``runs/demo/train/model.keras`` in the working directory, as ``make demo`` writes it
    (an untrained, small `Seq2Seq` with its tokenizers)."""
    from keras_seq.datasets import load_ding
    from keras_seq.models import Seq2Seq
    from keras_seq.text import WordTokenizer

    pairs = load_ding("test")[:50]
    model = Seq2Seq(
        embedding_dim=8,
        units=8,
        source_tokenizer=WordTokenizer.from_corpus([german for german, _ in pairs]),
        target_tokenizer=WordTokenizer.from_corpus([english for _, english in pairs]),
    )
    model.build()
    (tmp_path / "runs" / "demo" / "train").mkdir(parents=True)
    model.save(tmp_path / "runs" / "demo" / "train" / "model.keras")
    yield {}


@contextlib.contextmanager
def _toy_server(namespace, tmp_path):
    """A local server on a free port (``{url}``) serving the toy classifier of the export
    tests as ``classifier``, versions 1 and 2, with the label ``stable`` on version 1."""
    from tensorflow_serving.config import model_server_config_pb2

    from keras_seq.export import export
    from keras_seq.serving import ModelServer
    from tests.export.toy_models import make_classifier
    from tests.serving.local_server import ServerThread

    base = tmp_path / "models"
    for version in (1, 2):
        export(make_classifier(seed=version), base, name="classifier", version=version)
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add()
    entry.name = "classifier"
    entry.base_path = str(base / "classifier")
    entry.model_platform = "tensorflow"
    entry.model_version_policy.all.SetInParent()
    entry.version_labels["stable"] = 1
    with ServerThread(ModelServer(config, poll_interval=5)) as server:
        yield {"url": server.url}


SETUPS = {
    "classifier_model": _classifier_model,
    "demo_model": _demo_model,
    "toy_server": _toy_server,
}


# --------------------------------------------------------------------------- the blocks
@dataclasses.dataclass
class Block:
    document: str
    line: int  # of the first line of code, 1-based
    code: str
    skip: str | None = None
    slow: bool = False
    setups: list = dataclasses.field(default_factory=list)
    replacements: list = dataclasses.field(default_factory=list)


_MARKER = re.compile(r"^<!--\s*docs-test:(.*)-->$")
_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def _parse_directives(text, where):
    options = {"skip": None, "slow": False, "setups": [], "replacements": []}
    for directive in (part.strip() for part in text.split(";")):
        word, _, rest = directive.partition(" ")
        rest = rest.strip()
        if word == "skip" and rest:
            options["skip"] = rest
        elif word == "slow" and not rest:
            options["slow"] = True
        elif word == "setup" and rest in SETUPS:
            options["setups"].append(rest)
        elif word == "replace" and " => " in rest:
            old, new = rest.split(" => ", 1)
            options["replacements"].append((old.strip(), new.strip()))
        else:
            raise ValueError(
                f"{where}: unknown docs-test directive {directive!r} (expected 'skip (REASON)', "
                f"'slow', 'setup NAME' with NAME in {sorted(SETUPS)}, or 'replace OLD => NEW')"
            )
    return options


def parse_blocks(text, document):
    """The ```python blocks of a Markdown text, with the directives of their markers."""
    lines = text.splitlines()
    blocks, pending, index = [], None, 0
    while index < len(lines):
        stripped = lines[index].strip()
        marker = _MARKER.match(stripped)
        fence = _FENCE.match(lines[index])
        if marker:
            pending = _parse_directives(marker.group(1), f"{document}:{index + 1}")
        elif fence:
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end == len(lines):
                raise ValueError(f"{document}:{index + 1}: unclosed ``` fence")
            if fence.group(2) == "python":
                code = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
                blocks.append(Block(document, index + 2, code, **(pending or {})))
            elif pending is not None:
                raise ValueError(
                    f"{document}:{index + 1}: a docs-test marker before a non-Python block"
                )
            pending, index = None, end
        elif stripped and pending is not None:
            raise ValueError(
                f"{document}:{index + 1}: a docs-test marker must come right before ```python"
            )
        index += 1
    return blocks


def _matches(pattern, text):
    regex = ".*?".join(re.escape(part) for part in pattern.split("..."))
    return re.fullmatch(regex, text, re.DOTALL) is not None


class _Instrument(ast.NodeTransformer):
    """Routes the statements whose comments state an output through the checks."""

    def __init__(self, comments):
        self.comments = comments

    def visit_Call(self, node):
        self.generic_visit(node)
        comment = self.comments.get(node.end_lineno)
        if isinstance(node.func, ast.Name) and node.func.id == "print" and comment is not None:
            expected = comment[2:].strip() if comment.startswith("->") else comment
            node.func = ast.Name("_docs_print", ast.Load())
            node.keywords += [
                ast.keyword("_expected", ast.Constant(expected)),
                ast.keyword("_line", ast.Constant(node.end_lineno)),
            ]
        return node

    def _claim(self, node):
        self.generic_visit(node)
        comment = self.comments.get(node.end_lineno, "")
        printed = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) in (
            "print",
            "_docs_print",
        )
        if comment.startswith("->") and not printed:
            expected = ast.Constant(comment[2:].strip())
            line = ast.Constant(node.end_lineno)
            node.value = ast.Call(
                ast.Name("_docs_value", ast.Load()), [node.value, expected, line], []
            )
        return node

    visit_Expr = visit_Assign = visit_AnnAssign = _claim


def run_block(block, namespace, values):
    """Runs ``block`` in ``namespace``; AssertionError when it fails or states a wrong output."""
    code = block.code
    for old, new in block.replacements:
        assert old in code, f"{block.document}:{block.line}: 'replace {old}' matches nothing"
        for name, value in values.items():
            new = new.replace("{" + name + "}", value)
        code = code.replace(old, new)
    where = f"{block.document}:{block.line}"
    comments = {
        token.start[0]: token.string[1:].strip()
        for token in tokenize.generate_tokens(io.StringIO(code).readline)
        if token.type == tokenize.COMMENT
    }
    tree = _Instrument(comments).visit(ast.parse(code))
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, block.line - 1)

    def docs_print(*args, _expected, _line, sep=" ", **kwargs):
        text = sep.join(str(arg) for arg in args)
        print(text, **kwargs)
        assert _matches(_expected, text), (
            f"{block.document}:{block.line + _line - 1}: printed {text!r}, "
            f"the text says {_expected!r}"
        )

    def docs_value(value, expected, line):
        assert _matches(expected, str(value)) or _matches(expected, repr(value)), (
            f"{block.document}:{block.line + line - 1}: the value is {value!r}, "
            f"the text says {expected!r}"
        )
        return value

    # The code as run, at its lines of the document: for tracebacks, and for AutoGraph, which
    # reads the source of the functions it converts.
    filename = f"{ROOT / block.document} (as run)"
    lines = [""] * (block.line - 1) + code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)
    namespace.update(_docs_print=docs_print, _docs_value=docs_value)
    try:
        exec(compile(tree, filename, "exec"), namespace)
    except AssertionError:
        raise
    except Exception as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
        where = f"{block.document}:{frames[-1].lineno}" if frames else where
        raise AssertionError(
            f"the example at {where} fails: {type(error).__name__}: {error}"
        ) from error


DOCUMENTS = ["README.md", *(f"docs/{path.name}" for path in sorted((ROOT / "docs").glob("*.md")))]
BLOCKS = {
    document: parse_blocks((ROOT / document).read_text(encoding="utf-8"), document)
    for document in DOCUMENTS
}


def _cases():
    for document, blocks in BLOCKS.items():
        run = [block for block in blocks if block.skip is None]
        if any(not block.slow for block in run):
            yield pytest.param(document, False, id=document)
        if any(block.slow for block in run):
            yield pytest.param(document, True, id=f"{document}-slow", marks=pytest.mark.slow)


# ------------------------------------------------------------------------------ tests
@pytest.mark.parametrize(("document", "with_slow"), list(_cases()))
def test_examples_run_and_print_what_the_text_says(document, with_slow, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    with contextlib.ExitStack() as stack:
        for block in BLOCKS[document]:
            if block.skip is not None or (block.slow and not with_slow):
                continue
            values = {"tmp": str(tmp_path)}
            for name in block.setups:
                values.update(stack.enter_context(SETUPS[name](namespace, tmp_path)))
            run_block(block, namespace, values)


def test_a_wrong_output_a_failing_example_and_a_bad_marker_are_caught():
    text = (
        "<!-- docs-test: replace 3 => 2 -->\n"
        "```python\nx = [1, 3]  # -> [1, 2]\nprint(x, 'and', {'a': 1})  # [1, 2] and {...}\n```\n"
        "```python\nprint(sum(x))  # 4\n```\n"
        "```python\nx.append(...)  # -> None\nprint(x)  # -> [1, 2]\n```\n"
        "```python\nx = 1\nimport no_such_module\n```\n"
    )
    fine, wrong_sum, wrong_list, failing = parse_blocks(text, "example.md")
    namespace = {}
    run_block(fine, namespace, {})
    with pytest.raises(AssertionError, match=r"example\.md:7: printed '3', the text says '4'"):
        run_block(wrong_sum, namespace, {})
    with pytest.raises(AssertionError, match=r"example\.md:11: printed '\[1, 2, Ellipsis\]'"):
        run_block(wrong_list, namespace, {})
    with pytest.raises(AssertionError, match=r"example\.md:15 fails: ModuleNotFoundError"):
        run_block(failing, namespace, {})
    with pytest.raises(ValueError, match="unknown docs-test directive 'fast'"):
        parse_blocks("<!-- docs-test: fast -->\n```python\npass\n```\n", "example.md")
    with pytest.raises(ValueError, match="right before"):
        parse_blocks("<!-- docs-test: slow -->\ntext\n```python\npass\n```\n", "example.md")
