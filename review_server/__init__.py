"""The review web app: a thin Starlette layer over :mod:`pipeline.review`.

``product-scene review DEST/<batch_id>`` starts it (:func:`review_server.serve.serve_review`).
The page's assets (``static/``) ship in the wheel and load nothing from the network.
"""
