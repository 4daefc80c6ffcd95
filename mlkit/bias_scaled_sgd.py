"""SGD that steps batch-norm shifts further than the other weights, as airbench94 does.

airbench94 trains its batch-norm biases (Keras' `beta`) at 64 times the rate of the other
weights, their weight decay unscaled: a shift moves a GELU's threshold, and at the shared rate
weight decay keeps the shifts near zero. Keras' optimizers take one rate for every variable, so
`update_step` multiplies it for the betas; weight decay (decoupled, applied before the steps
at the unscaled rate) is unchanged. Registered as "mlkit>BiasScaledSGD" so that a saved
optimizer loads in safe mode.
"""

import functools

BIAS_VARIABLE = "beta"  # the name Keras' BatchNormalization gives its shift


@functools.cache
def bias_scaled_sgd():
    """The optimizer class, defined and registered on first use (importing mlkit stays cheap)."""
    import keras

    @keras.saving.register_keras_serializable(package="mlkit")
    class BiasScaledSGD(keras.optimizers.SGD):
        """keras.optimizers.SGD with `bias_scale` times the learning rate for batch-norm betas."""

        def __init__(self, bias_scale: float = 1.0, **kwargs):
            super().__init__(**kwargs)
            self.bias_scale = bias_scale

        def build(self, variables):
            super().build(variables)
            # update_step may see the backend's variable, not Keras', so betas are known by index.
            self._scaled = {self._get_variable_index(v) for v in variables if v.name == BIAS_VARIABLE}

        def update_step(self, gradient, variable, learning_rate):
            if self._get_variable_index(variable) in self._scaled:
                learning_rate = learning_rate * self.bias_scale
            super().update_step(gradient, variable, learning_rate)

        def get_config(self):
            return super().get_config() | {"bias_scale": self.bias_scale}

    return BiasScaledSGD


def custom_objects() -> dict:
    """The optimizer class by registered name, for `keras.saving.load_model`."""
    return {"mlkit>BiasScaledSGD": bias_scaled_sgd()}
