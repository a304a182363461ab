"""A test stage written the way SageMaker bring-your-own-container serving code is written.

It follows the shape of the scikit_bring_your_own example's predictor.py on purpose, pitfalls
included, so the orchestrator is tested against what real stages do:

- it runs under gunicorn's sync worker (see serve_flask), which closes every connection;
- it accepts input only when Content-Type is exactly ``text/csv`` (an exact comparison, as in
  the example), so ``text/csv; charset=utf-8`` gets a 415;
- it answers with ``flask.Response(..., mimetype="text/csv")``, which Flask sends as
  ``text/csv; charset=utf-8``: chained to a second stage like it, that second stage answers 415
  unless the orchestrator normalises the content type.

Behaviour: each CSV line is upper-cased and gets one more column, ``flask`` or the stripped
contents of ``suffix.txt`` in the model directory ($SM_MODEL_DIR, default /opt/ml/model). The
X-Amzn-SageMaker-Custom-Attributes request header is echoed in the response.
"""

import os

import flask

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
MODEL_DIR = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")


class ScoringService:
    """Loads the "model" (the suffix) once, on first use, like the BYOC example."""

    suffix = None

    @classmethod
    def get_suffix(cls):
        if cls.suffix is None:
            path = os.path.join(MODEL_DIR, "suffix.txt")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as model:
                    cls.suffix = model.read().strip()
            else:
                cls.suffix = "flask"
        return cls.suffix

    @classmethod
    def predict(cls, text):
        suffix = cls.get_suffix()
        lines = [line.upper() + "," + suffix for line in text.splitlines()]
        return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


app = flask.Flask(__name__)


def with_custom_attributes(response):
    attributes = flask.request.headers.get(CUSTOM_ATTRIBUTES)
    if attributes is not None:
        response.headers[CUSTOM_ATTRIBUTES] = attributes
    return response


@app.route("/ping", methods=["GET"])
def ping():
    health = ScoringService.get_suffix() is not None
    status = 200 if health else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    content_type = flask.request.content_type
    if content_type != "text/csv":
        got = content_type or "no Content-Type"
        return with_custom_attributes(
            flask.Response(
                response="flask stage accepts text/csv, got {}".format(got),
                status=415,
                mimetype="text/plain",
            )
        )
    text = flask.request.get_data().decode("utf-8")
    result = ScoringService.predict(text)
    return with_custom_attributes(flask.Response(result, mimetype="text/csv"))
