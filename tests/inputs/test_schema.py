from __future__ import annotations

import pytest
from PIL import Image

from vlrerank.errors import InputError
from vlrerank.inputs.schema import MultimodalInput, to_documents, to_multimodal


def test_accepted_forms():
    img = Image.new("RGB", (8, 8))
    assert to_multimodal("hi", "query") == MultimodalInput(texts=("hi",))
    assert to_multimodal(img, "query").images == (img,)
    got = to_multimodal({"text": ["a", "b"], "image": ["x.png", b"\x89PNG"], "video": [img, img]}, "q")
    assert got.texts == ("a", "b") and got.images == ("x.png", b"\x89PNG") and got.videos == ((img, img),)
    assert to_multimodal({"video": [[img], "clip.mp4"]}, "q").videos == ((img,), "clip.mp4")
    assert to_multimodal({}, "q").is_empty


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({"txt": "typo"}, "documents[1]", "unknown key"),
        ({"text": 5}, "documents[1].text", "expected a string"),
        ({"text": ["ok", None]}, "documents[1].text[1]", "expected a string"),
        ({"image": 3.5}, "documents[1].image", "expected a path"),
        ({"image": ["a.png", ""]}, "documents[1].image[1]", "empty image"),
        ({"video": [[]]}, "documents[1].video[0]", "at least one frame"),
        ({"video": 7}, "documents[1].video", "expected a video"),
        (42, "documents[1]", "expected a string or an object"),
    ],
)
def test_errors_name_the_document_and_field(value, field, message):
    with pytest.raises(InputError, match=message) as info:
        to_documents(["fine", value])
    assert info.value.field == field


def test_documents_must_be_a_list():
    with pytest.raises(InputError, match="list of documents"):
        to_documents("just one string")
