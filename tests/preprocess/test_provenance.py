"""Provenance reports what the model actually receives: checked against the processor's output."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vlrerank.preprocess import PreprocessConfig, process_image

from ..conftest import noise_image

configs = st.one_of(
    st.just(PreprocessConfig()),
    st.builds(
        PreprocessConfig,
        size=st.tuples(st.integers(16, 700), st.integers(16, 700)),
        mode=st.sampled_from(["fit", "crop", "stretch"]),
        blur_sigma=st.sampled_from([0.0, 0.3]),
    ),
    st.just(PreprocessConfig(preset="document")),
)


@settings(max_examples=40, deadline=None)
@given(width=st.integers(8, 900), height=st.integers(8, 900), config=configs)
def test_effective_size_equals_the_processor_grid_times_patch_size(reranker, width, height, config):
    if max(width, height) / min(width, height) > 200:
        return
    visual = reranker.engine.encoder.prepare_image(
        noise_image(width, height, 0), "documents[0].image", config
    )
    facts = visual.provenance
    _, grid_h, grid_w = visual.grid_thw
    assert (facts.model_width, facts.model_height) == (grid_w * 16, grid_h * 16)
    assert facts.visual_tokens == grid_h * grid_w // 4 == visual.slot_filler.count("<|image_pad|>")
    assert (facts.original_width, facts.original_height) == (width, height)
    if config.target:
        assert (facts.output_width, facts.output_height) == config.target


def test_provenance_lists_every_step_with_parameters(tmp_path):
    path = tmp_path / "p.png"
    noise_image(1600, 900, 1, "RGBA").save(path)
    config = PreprocessConfig(preset="general", mode="fit", blur_sigma=0.3, aspect_snap="auto")
    facts = process_image(str(path), field="documents[1].image", config=config).provenance
    assert [s.name for s in facts.steps] == ["to_rgb", "fit", "blur"]  # 16:9 needs no snapping
    assert facts.steps[1].params["size"] == (1024, 768) and facts.steps[2].params == {"sigma": 0.3}
    assert (facts.original_width, facts.original_height, facts.aspect_ratio) == (1600, 900, "16:9")
    assert (facts.model_width, facts.model_height, facts.visual_tokens) == (1024, 768, 768)
    assert facts.format == "PNG" and facts.num_bytes == path.stat().st_size and facts.mode == "RGBA"
    assert facts.quality is not None and 0 <= facts.quality.score <= 1
    plain = facts.to_dict()
    assert plain["steps"][1]["params"]["size"] == [1024, 768] and plain["aspect_ratio"] == "16:9"


def test_large_images_reach_the_model_at_its_cap():
    facts = process_image(noise_image(2048, 1536, 2), field="f").provenance
    assert (facts.model_width, facts.model_height, facts.visual_tokens) == (1536, 1152, 1728)
