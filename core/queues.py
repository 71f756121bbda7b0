"""The Celery queues (config/celery.py declares and routes them; generation's routing picks
one per backend). One worker deployment per queue (see platform/): a slow GPU job can never
starve e-mail, and the privacy sweeper always has a worker of its own."""

QUEUE_DEFAULT = "default"
QUEUE_REPLICATE = "replicate"
QUEUE_GPU = "gpu"
QUEUE_OFFLINE = "offline"
QUEUE_PRIVACY = "privacy"
QUEUES = (QUEUE_DEFAULT, QUEUE_REPLICATE, QUEUE_GPU, QUEUE_OFFLINE, QUEUE_PRIVACY)
