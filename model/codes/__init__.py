"""Item codes: the record of each item's semantic-token tuple, the code tokens' vocabulary, and the trie over them."""

from model.codes.item_codes import ItemCodes, level_letter
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab

__all__ = ["CodeTrie", "CodeVocab", "ItemCodes", "level_letter"]
