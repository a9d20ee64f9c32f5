"""Caption preprocessing, vocabularies, sentence encoders and pre-computed embeddings (illusioncraft.text).

Lemmas are spaCy's lookup table (spacy-lookups-data), stems the Snowball English stemmer.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from illusioncraft import registry
from illusioncraft.errors import ConfigError, DataError, RegistryError
from illusioncraft.text import (
    DEFAULT_TEXT_STEPS,
    BiGRUEncoder,
    EmbeddingBagEncoder,
    OneHot,
    TextEncoder,
    TextPipeline,
    Vocabulary,
    bag_of_words,
    load_sentence_embeddings,
)
from illusioncraft.text.steps import Lemmatize, RemoveStopwords, Stem, Tokenize

PAD, UNK = Vocabulary.PAD, Vocabulary.UNK
ENCODERS = ["embedding_bag", "bigru", "bag_of_words"]


# steps


def test_tokenize_drops_punctuation_and_whitespace_unless_asked():
    caption = "A small bird,  with red wings.\n"
    assert Tokenize()(caption) == ["A", "small", "bird", "with", "red", "wings"]
    assert Tokenize(keep_punctuation=True)(caption) == ["A", "small", "bird", ",", "with", "red", "wings", "."]


def test_lemmatize_gives_dictionary_forms():
    assert Lemmatize()(["the", "birds", "were", "running", "flying"]) == ["the", "bird", "be", "run", "fly"]


def test_lemmatize_is_case_sensitive_so_lowercase_comes_first():
    assert Lemmatize()(["Birds", "Were"]) == ["Birds", "Were"]
    assert TextPipeline(["lowercase", "tokenize", "lemmatize"])("Birds Were") == ["bird", "be"]


def test_lemmatize_keeps_the_tokens_it_is_given():
    assert Lemmatize()(["can't", "e-mail"]) == ["can't", "e-mail"]  # not re-tokenized into ca / n't


def test_stem_is_snowball_english():
    assert Stem()(["running", "flying", "circles", "circle"]) == ["run", "fli", "circl", "circl"]


def test_remove_stopwords_keeps_content_words_and_listed_words():
    tokens = ["a", "bird", "with", "red", "wings", "on", "the", "branch"]
    assert RemoveStopwords()(tokens) == ["bird", "red", "wings", "branch"]
    assert RemoveStopwords(keep=["on"])(tokens) == ["bird", "red", "wings", "on", "branch"]


def test_default_pipeline_lowercases_tokenizes_lemmatizes_and_stems():
    assert DEFAULT_TEXT_STEPS == ["lowercase", "tokenize", "lemmatize", "stem"]
    assert TextPipeline(DEFAULT_TEXT_STEPS)("The birds were running, flying in CIRCLES!") == [
        "the", "bird", "be", "run", "fli", "in", "circl"
    ]


def test_pipeline_from_dict_specs_and_its_specs_rebuild_it():
    pipeline = TextPipeline([{"name": "lowercase"}, {"name": "tokenize", "keep_punctuation": True}, "remove_stopwords"])
    assert pipeline("A RED bird!") == ["red", "bird", "!"]
    specs = json.loads(json.dumps(pipeline.specs))
    assert specs == [{"name": "lowercase"}, {"name": "tokenize", "keep_punctuation": True}, {"name": "remove_stopwords"}]
    assert TextPipeline(specs)("A RED bird!") == ["red", "bird", "!"]


def test_a_step_in_the_wrong_place_is_named_with_its_position():
    with pytest.raises(ConfigError, match=r"text step 'lemmatize' \(step 2 of 3\) takes tokens but gets text"):
        TextPipeline(["lowercase", "lemmatize", "tokenize"])


def test_a_pipeline_without_tokenize_is_an_error():
    with pytest.raises(ConfigError, match="text pipeline needs a 'tokenize' step"):
        TextPipeline(["lowercase"])


def test_an_unknown_step_suggests_the_closest_name():
    with pytest.raises(RegistryError, match=r"unknown text 'lematize'; did you mean 'lemmatize'"):
        TextPipeline(["tokenize", "lematize"])


def test_a_wrong_step_argument_suggests_the_right_one():
    with pytest.raises(RegistryError, match=r"text 'tokenize' has no argument 'keep_punct'; did you mean 'keep_punctuation'"):
        TextPipeline([{"name": "tokenize", "keep_punct": True}])


def test_an_encoder_is_not_a_caption_step():
    with pytest.raises(ConfigError, match=r"text step 'bigru' \(step 2 of 2\) does not turn captions into tokens"):
        TextPipeline(["tokenize", "bigru"])


def test_text_entries_are_registered():
    expected = {"lowercase", "tokenize", "lemmatize", "stem", "remove_stopwords", "vocabulary", "one_hot", *ENCODERS}
    assert expected <= set(registry.names("text"))


# vocabulary


def test_vocabulary_orders_by_frequency_then_alphabetically():
    vocabulary = Vocabulary.build([["b", "a", "c", "a"], ["c", "a", "d"]])  # a: 3, c: 2, b: 1, d: 1
    assert vocabulary.to_list() == [PAD, UNK, "a", "c", "b", "d"]
    assert len(vocabulary) == 6 and vocabulary.token_to_id(PAD) == 0 and vocabulary.token_to_id(UNK) == 1


def test_min_freq_and_max_size_drop_rare_words():
    token_lists = [["b", "a", "c", "a"], ["c", "a", "d"]]
    assert Vocabulary.build(token_lists, min_freq=2).to_list() == [PAD, UNK, "a", "c"]
    assert Vocabulary.build(token_lists, max_size=3).to_list() == [PAD, UNK, "a"]


def test_encode_pads_with_zero_truncates_and_maps_unknown_to_one():
    vocabulary = Vocabulary(["red", "bird"])  # ids 2, 3
    assert vocabulary.encode(["red", "owl", "bird"], max_length=5).tolist() == [2, 1, 3, 0, 0]
    assert vocabulary.encode(["red", "owl", "bird"], max_length=2).tolist() == [2, 1]
    assert vocabulary.encode([], max_length=2).dtype == torch.long
    assert vocabulary.unknown(["red", "owl", "owl", "emu"]) == ["owl", "emu"]
    assert vocabulary.decode(torch.tensor([2, 1, 3, 0, 0])) == ["red", UNK, "bird"]


def test_vocabulary_round_trips_through_a_json_list():
    vocabulary = Vocabulary.build([["red", "bird", "red"], ["blue", "wings"]])
    restored = Vocabulary.from_list(json.loads(json.dumps(vocabulary.to_list())))
    assert restored == vocabulary
    assert restored.encode(["blue", "red", "owl"], 4).tolist() == vocabulary.encode(["blue", "red", "owl"], 4).tolist()


def test_a_saved_vocabulary_without_the_special_tokens_is_rejected():
    with pytest.raises(DataError, match="starts with '<pad>', '<unk>'"):
        Vocabulary.from_list(["red", "bird"])


def test_one_hot_has_all_zero_pad_rows():
    encoded = OneHot(Vocabulary(["red", "bird"]))(torch.tensor([3, 2, 1, 0]))  # (L=4, V=4)
    assert encoded.tolist() == [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]


def test_bag_of_words_counts_words_but_not_pads():
    counts = bag_of_words(torch.tensor([[2, 2, 3, 0], [0, 0, 0, 0]]), vocab_size=5)  # (B=2, V=5)
    assert counts.tolist() == [[0, 0, 2, 1, 0], [0, 0, 0, 0, 0]]


# text encoder (captions -> ids)

CAPTIONS = [
    "This bird has red wings and a short beak.",
    "A small bird with red wings.",
    "The bird is flying in circles.",
    "A bird circles over a circle of trees.",
]


def test_lemmatization_merges_word_forms_that_plain_tokens_keep_apart():
    lemmas = TextEncoder(["lowercase", "tokenize", "lemmatize"]).fit(CAPTIONS)
    plain = TextEncoder(["lowercase", "tokenize"]).fit(CAPTIONS)
    assert lemmas.vocabulary.token_to_id("circles") == 1  # never a token: lemmatized to "circle"
    assert lemmas.encode(["circles"])[0, 0] == lemmas.encode(["circle"])[0, 0] != 1
    assert plain.encode(["circles"])[0, 0] != plain.encode(["circle"])[0, 0]


def test_text_encoder_pads_to_max_length_and_min_freq_makes_rare_words_unknown():
    encoder = TextEncoder(min_freq=2, max_length=6).fit(CAPTIONS)
    ids = encoder.encode(["A red bird", "red"])  # (N=2, max_length=6)
    assert ids.shape == (2, 6) and ids.dtype == torch.long
    assert encoder.decode(ids[0]) == ["a", "red", "bird"] and ids[1, 1:].eq(0).all()
    assert encoder.encode(["beak"]).tolist()[0][0] == 1  # seen once: below min_freq


def test_unknown_words_are_the_captions_own_words():
    encoder = TextEncoder().fit(CAPTIONS)
    assert encoder.unknown_words("A Purple bird with huge WINGS.") == ["Purple", "huge"]


def test_text_encoder_state_round_trip_gives_identical_ids():
    encoder = TextEncoder(steps=["lowercase", {"name": "tokenize"}, "stem"], min_freq=1, max_length=8).fit(CAPTIONS)
    state = json.loads(json.dumps(encoder.state()))
    restored = TextEncoder.from_state(state)
    captions = [*CAPTIONS, "An unseen caption about herons."]
    assert torch.equal(restored.encode(captions), encoder.encode(captions))
    assert restored.state() == encoder.state()


def test_text_encoder_must_be_fitted_before_encoding():
    with pytest.raises(RuntimeError, match="call fit"):
        TextEncoder().encode(["a bird"])


# sentence encoders (ids -> vectors)


@pytest.mark.parametrize("name", ENCODERS)
def test_encoders_map_ids_to_vectors_even_for_empty_captions(name):
    torch.manual_seed(0)
    encoder = registry.build("text", name, vocab_size=20, output_dim=8, embedding_dim=4)
    ids = torch.tensor([[2, 5, 7, 0], [3, 0, 0, 0], [0, 0, 0, 0]])  # (B=3, L=4); the last caption is empty
    out = encoder(ids)
    assert out.shape == (3, 8) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ENCODERS)
def test_encoders_ignore_trailing_pads(name):
    torch.manual_seed(0)
    encoder = registry.build("text", name, vocab_size=20, output_dim=8)
    ids = torch.tensor([[2, 5, 7, 0], [3, 0, 0, 0]])
    padded = torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1)  # (2, 9)
    torch.testing.assert_close(encoder(padded), encoder(ids))


def test_bigru_reads_word_order_while_embedding_bag_does_not():
    torch.manual_seed(0)
    ids, reversed_ids = torch.tensor([[2, 5, 7]]), torch.tensor([[7, 5, 2]])
    gru, bag = BiGRUEncoder(vocab_size=10, output_dim=4), EmbeddingBagEncoder(vocab_size=10, output_dim=4)
    assert not torch.allclose(gru(ids), gru(reversed_ids))
    torch.testing.assert_close(bag(ids), bag(reversed_ids))


def test_encoder_sizes_are_checked():
    with pytest.raises(ConfigError, match="text encoder 'bigru': hidden_size must be >= 1, got 0"):
        BiGRUEncoder(vocab_size=10, hidden_size=0)


# pre-computed sentence embeddings


def test_stackgan_style_pickle_loads_as_float32_images_captions_dims(tmp_path):
    rows = [np.arange(10 * 8, dtype=np.float64).reshape(10, 8) + i for i in range(3)]  # 3 images, 10 captions, D=8
    path = tmp_path / "char-CNN-RNN-embeddings.pickle"
    path.write_bytes(pickle.dumps(rows, protocol=2))
    embeddings = load_sentence_embeddings(path)
    assert embeddings.shape == (3, 10, 8) and embeddings.dtype == torch.float32
    assert torch.equal(embeddings[2], torch.from_numpy(rows[2]).float())


def test_two_dimensional_npy_and_pt_embeddings_get_one_caption_per_image(tmp_path):
    np.save(tmp_path / "e.npy", np.ones((4, 6)))
    torch.save(torch.zeros(5, 6, dtype=torch.float64), tmp_path / "e.pt")
    assert load_sentence_embeddings(tmp_path / "e.npy").shape == (4, 1, 6)
    assert load_sentence_embeddings(tmp_path / "e.pt").dtype == torch.float32


def test_bad_embedding_files_are_one_line_errors_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=r"sentence embeddings '.*missing.pickle' does not exist"):
        load_sentence_embeddings(tmp_path / "missing.pickle")
    garbage = tmp_path / "garbage.pickle"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match=r"cannot read sentence embeddings '.*garbage.pickle': UnpicklingError"):
        load_sentence_embeddings(garbage)
    np.save(tmp_path / "flat.npy", np.ones(7))
    with pytest.raises(DataError, match=r"'.*flat.npy' has shape \(7,\); expected \(N, captions_per_image, D\)"):
        load_sentence_embeddings(tmp_path / "flat.npy")
