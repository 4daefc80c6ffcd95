"""build_* functions returning keras.Model."""
