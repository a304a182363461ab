"""The baseline of python_bench.py: an entry point served the way the Flask-family SageMaker
containers serve it (a Flask app under gunicorn's workers), with the same handler rules as
tandem-python (tandem_python.service), so that the two differ only in how requests reach the
handler: Flask and gunicorn here, the stage SDK's server (HTTP or shared memory) there.
Configured by the same variables as tandem-python; started by ./serve."""
import os
import sys

import flask

from tandem_python import code, master
from tandem_python.service import Invocation, Service

settings = master.read_settings(os.environ)
prepared = code.prepare(os.environ, settings.framework)
sys.path.append(os.path.join(os.path.dirname(master.__file__), os.pardir, "shims"))
service = Service.load(program=settings.program, code_dir=prepared.code_dir,
                       model_dir=prepared.model_dir or "", framework=settings.framework,
                       default_accept=settings.default_accept)
app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    return flask.Response("", status=200, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations():
    request = flask.request
    answer = service.invoke(Invocation(
        body=request.get_data(), content_type=request.headers.get("Content-Type", ""),
        accept=request.headers.get("Accept", ""),
        custom_attributes=request.headers.get("X-Amzn-SageMaker-Custom-Attributes", ""),
        inference_id=request.headers.get("X-Amzn-SageMaker-Inference-Id", "")))
    response = flask.Response(answer.body, status=answer.status)
    if answer.content_type is None:
        del response.headers["Content-Type"]
    else:
        response.headers["Content-Type"] = answer.content_type
    return response
