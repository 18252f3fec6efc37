"""TokenCipher: keys from NEMOBOT_SECRET_KEY, the stored form, rotation, bad keys."""

import pytest

from store.crypto import TokenCipher, UnknownKey

KEY_A = TokenCipher.generate_key()
KEY_B = TokenCipher.generate_key()


def test_generate_key_is_a_fernet_key():
    assert len(KEY_A) == 44 and KEY_A != KEY_B
    TokenCipher.from_keys(KEY_A)


def test_roundtrip_and_stored_form():
    cipher = TokenCipher.from_keys(KEY_A)
    stored = cipher.encrypt("nmv_usr_x")
    assert stored.startswith("fernet:") and "nmv_usr_x" not in stored
    assert TokenCipher.is_encrypted(stored) and not TokenCipher.is_encrypted("nmv_usr_x")
    assert cipher.decrypt(stored) == "nmv_usr_x"
    assert cipher.is_current(stored)
    with pytest.raises(ValueError, match="not an encrypted value"):
        cipher.decrypt("nmv_usr_x")


def test_first_key_encrypts_all_decrypt():
    old = TokenCipher.from_keys(KEY_A).encrypt("t")
    both = TokenCipher.from_keys(f" {KEY_B} , {KEY_A},")  # spaces and a trailing comma are fine
    assert both.decrypt(old) == "t"
    assert not both.is_current(old)
    new = both.encrypt("t")
    assert both.is_current(new)
    assert TokenCipher.from_keys(KEY_B).decrypt(new) == "t"
    with pytest.raises(UnknownKey):
        TokenCipher.from_keys(KEY_B).decrypt(old)
    with pytest.raises(UnknownKey):
        TokenCipher.from_keys(KEY_A).decrypt("fernet:damaged")


@pytest.mark.parametrize(
    "keys", ["", " , ", "not-a-key", f"{KEY_A},short", "x" * 44], ids=["empty", "commas", "word", "one-short", "44x"]
)
def test_malformed_keys_are_refused_without_echoing_them(keys):
    with pytest.raises(ValueError, match="NEMOBOT_SECRET_KEY") as info:
        TokenCipher.from_keys(keys)
    assert KEY_A not in str(info.value)
    if "," in keys and keys.strip(" ,"):
        assert "key 2 of 2" in str(info.value)
