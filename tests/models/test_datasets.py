"""Every loader on tiny files written here in exactly the real format; nothing downloads."""

import io
import pickle
from importlib.util import find_spec
import struct

import numpy as np
import pytest
import torch

from spikefold.models.data import DatasetNotFound, load_dataset
from spikefold.models.data.digits import digits_arrays
from spikefold.models.data.digits_dvs import digits_dvs_arrays, simulate_dvs
from spikefold.models.data.events import events_to_frames


# ---------------------------------------------------------------- digits
def test_digits_split_is_fixed_and_stratified():
    x_tr, y_tr = digits_arrays(True)
    x_te, y_te = digits_arrays(False)
    assert len(y_tr) + len(y_te) == 1797 and len(y_te) == 450
    assert x_tr.min() >= 0 and x_tr.max() <= 1
    counts = np.bincount(y_te)
    assert counts.max() - counts.min() <= 3  # a quarter of each class (174..183 images)
    again = digits_arrays(False)
    assert np.array_equal(again[0], x_te)


def test_digits_dvs_is_deterministic_cached_and_event_like(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path))
    frames, labels = digits_dvs_arrays(False, 4)
    assert frames.shape == (450, 4, 2, 8, 8) and labels.shape == (450,)
    assert len(list(tmp_path.glob("digits_dvs_test_T4_*.npz"))) == 1
    cached, _ = digits_dvs_arrays(False, 4)
    assert np.array_equal(frames, cached)
    assert np.all(frames == np.round(frames)) and frames.min() >= 0  # event counts
    assert frames[:, :, 0].sum() > 0 and frames[:, :, 1].sum() > 0  # ON and OFF events


def _damaged_caches(good: bytes):
    """A cached split's file, damaged as a disk, a user or another tool might leave it."""
    wrong_shape = io.BytesIO()
    np.savez(wrong_shape, frames=np.zeros((450, 3, 2, 8, 8), np.float32), labels=np.zeros(450, np.int64))
    no_labels = io.BytesIO()
    np.savez(no_labels, frames=np.zeros((450, 4, 2, 8, 8), np.float32))
    bad_labels = io.BytesIO()
    np.savez(bad_labels, frames=np.zeros((450, 4, 2, 8, 8), np.float32), labels=np.full(450, 99))
    return {"truncated": good[: len(good) // 2], "garbage": b"\x00garbage" * 100, "pickle": pickle.dumps([1, 2]),
            "wrong shape": wrong_shape.getvalue(), "no labels": no_labels.getvalue(),
            "labels out of range": bad_labels.getvalue(), "empty": b""}


def test_a_damaged_cache_file_is_made_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path))
    frames, labels = digits_dvs_arrays(False, 4)
    path = next(tmp_path.glob("digits_dvs_test_T4_*.npz"))
    for what, content in _damaged_caches(path.read_bytes()).items():
        path.write_bytes(content)
        capsys.readouterr()
        again, again_labels = digits_dvs_arrays(False, 4)
        assert np.array_equal(again, frames) and np.array_equal(again_labels, labels), what
        err = capsys.readouterr().err
        assert err.startswith(f"note: {path}: damaged cache file") and err.count("\n") == 1, (what, err)
        assert np.array_equal(np.load(path)["frames"], frames), what          # replaced by a good one
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]        # no temporaries


def test_an_unusable_cache_is_named_and_the_frames_still_made(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path / "cache"))
    frames, _ = digits_dvs_arrays(False, 2)
    taken = tmp_path / "file"
    taken.write_text("not a folder")
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(taken))
    assert np.array_equal(digits_dvs_arrays(False, 2)[0], frames)
    assert capsys.readouterr().err.startswith(f"note: cannot cache digits_dvs_test_T2 in {taken}")
    assert taken.read_text() == "not a folder"
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path / "cache"))
    path = next((tmp_path / "cache").glob("digits_dvs_test_T2_*.npz"))
    path.unlink()
    path.mkdir()                                         # a directory where the file belongs
    with pytest.raises(DatasetNotFound, match="is a directory where a cached digits_dvs_test_T2 file belongs"):
        digits_dvs_arrays(False, 2)


def test_a_split_over_the_work_limit_is_refused_before_it_is_made(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match=r"digits_dvs_train_T100000: 1347 samples of 100000x2x8x8 .* over the "
                                         r"4096 MiB work limit \(use a smaller --timesteps\)"):
        digits_dvs_arrays(True, 100_000)
    assert list(tmp_path.iterdir()) == []


def test_dvs_of_a_still_black_image_is_silent_and_a_bright_dot_fires():
    images = np.zeros((2, 8, 8), np.float32)
    images[1, 4, 4] = 1.0
    frames = simulate_dvs(images, 3)
    assert frames[0].sum() == 0
    assert frames[1, :, 0].sum() > 0 and frames[1, :, 1].sum() > 0


def test_events_to_frames_bins_time_and_scales_space():
    x = np.array([0, 127, 64, 10])
    y = np.array([0, 127, 64, 10])
    p = np.array([1, 0, 1, 1])
    t = np.array([0, 100, 50, 99])
    f = events_to_frames(x, y, p, t, (128, 128), 2, 4)
    assert f.shape == (2, 2, 4, 4) and f.sum() == 4
    assert f[0, 0, 0, 0] == 1 and f[1, 1, 3, 3] == 1 and f[1, 0, 2, 2] == 1 and f[1, 0, 0, 0] == 1


# ---------------------------------------------------------------- CIFAR
def write_cifar(root, classes):
    rng = np.random.default_rng(0)
    folder, files, key = (("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels")
                          if classes == 10 else ("cifar-100-python", ["train", "test"], "fine_labels"))
    (root / folder).mkdir(parents=True)
    for name in files:
        batch = {b"batch_label": name.encode(), key.encode(): [int(v) for v in rng.integers(0, classes, 3)],
                 b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
                 b"filenames": [b"a.png", b"b.png", b"c.png"]}
        with open(root / folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)  # the python-2 pickles CIFAR ships


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_reads_torchvision_layout(tmp_path, classes):
    write_cifar(tmp_path, classes)
    train = load_dataset(f"cifar{classes}", tmp_path, True, 4)
    test = load_dataset(f"cifar{classes}", tmp_path, False, 4)
    assert len(train) == (15 if classes == 10 else 3) and len(test) == 3
    x, y = test[0]
    assert x.shape == (3, 32, 32) and 0 <= y < classes
    assert train[0][0].shape == (3, 32, 32)


def test_cifar_augmentations_of_the_paper_recipes(tmp_path):
    """cutout: one 16 x 16 square (clipped at the border) set to 0 after normalisation;
    autoaugment: torchvision's CIFAR-10 policy on the uint8 image; both keep shape and labels."""
    write_cifar(tmp_path, 10)
    torch.manual_seed(0)
    plain = load_dataset("cifar10", tmp_path, True, 4)
    cut = load_dataset("cifar10", tmp_path, True, 4, augment="cutout")
    auto = load_dataset("cifar10", tmp_path, True, 4, augment="autoaugment")
    zeros = [int((cut[i % len(cut)][0] == 0).all(0).sum()) for i in range(60)]
    assert all(64 <= z <= 256 for z in zeros) and max(zeros) == 256     # 8x8 at a corner .. 16x16 inside
    x, y = auto[0]
    assert x.shape == (3, 32, 32) and y == plain[0][1]
    torch.manual_seed(1)
    a = torch.stack([auto[0][0] for _ in range(30)])
    torch.manual_seed(1)
    b = torch.stack([plain[0][0] for _ in range(30)])
    assert not torch.equal(a, b)                                         # the policy did act
    with pytest.raises(ValueError, match="cifar10 and cifar100 only"):
        load_dataset("digits", None, True, 4, augment="cutout")


def test_cifar_missing_directory_says_where(tmp_path):
    with pytest.raises(DatasetNotFound, match="cifar-10-batches-py.*nothing is downloaded"):
        load_dataset("cifar10", tmp_path, True, 4)


def test_cifar_refuses_a_pickle_that_would_run_code(tmp_path):
    write_cifar(tmp_path, 100)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "cifar-100-python" / "test", "wb") as f:
        pickle.dump({b"data": Evil()}, f)
    with pytest.raises(DatasetNotFound, match="refusing to load builtins.print"):
        load_dataset("cifar100", tmp_path, False, 4)


# ---------------------------------------------------------------- CIFAR10-DVS (AEDAT 4.0)
DESCRIPTION = ('<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
               '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
               '<attr key="compression" type="string">NONE</attr>'
               '<attr key="typeIdentifier" type="string">EVTS</attr>'
               '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
               '<attr key="sizeX" type="int">128</attr><attr key="sizeY" type="int">128</attr>'
               '</node></node></node></dv>')


def write_aedat4(path, t, x, y, on):
    """An uncompressed AEDAT 4.0 file: magic, IOHeader flatbuffer, one EVTS packet."""
    flatbuffers = pytest.importorskip("flatbuffers", reason="flatbuffers is not installed: the `data` extra")
    pytest.importorskip("aedat", reason="aedat is not installed: the optional `data` extra")
    hb = flatbuffers.Builder(256)
    desc = hb.CreateString(DESCRIPTION)
    hb.StartObject(3)
    hb.PrependInt32Slot(0, 0, 0)                    # compression = None
    hb.PrependInt64Slot(1, -1, 0)                   # file_data_position = -1 (read to EOF)
    hb.PrependUOffsetTRelativeSlot(2, desc, 0)      # description
    hb.Finish(hb.EndObject(), file_identifier=b"IOHE")
    header = bytes(hb.Output())

    pb = flatbuffers.Builder(1024)
    pb.StartVector(16, len(t), 8)                   # struct Event {t: i64, x: i16, y: i16, on: bool}
    for i in reversed(range(len(t))):
        pb.Prep(8, 16)
        pb.Pad(3)
        pb.PrependBool(bool(on[i]))
        pb.PrependInt16(int(y[i]))
        pb.PrependInt16(int(x[i]))
        pb.PrependInt64(int(t[i]))
    vec = pb.EndVector()
    pb.StartObject(1)
    pb.PrependUOffsetTRelativeSlot(0, vec, 0)
    pb.FinishSizePrefixed(pb.EndObject(), file_identifier=b"EVTS")
    packet = bytes(pb.Output())
    with open(path, "wb") as f:
        f.write(b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header)
        f.write(struct.pack("<iI", 0, len(packet)) + packet)


def test_cifar10_dvs_reads_tonic_layout_of_aedat4_files(tmp_path):
    from spikefold.models.data.neuromorphic import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        folder = tmp_path / "CIFAR10DVS" / name
        folder.mkdir(parents=True)
        for k in range(10):
            n = 50
            write_aedat4(folder / f"cifar10_{name}_{k}.aedat4", np.sort(rng.integers(0, 10_000, n)),
                         rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n))
    train = load_dataset("cifar10-dvs", tmp_path, True, 5, 16)
    test = load_dataset("cifar10-dvs", tmp_path, False, 5, 16)
    assert len(train) == 90 and len(test) == 10  # the paper's 9:1, per class
    x, y = test[3]
    assert x.shape == (5, 2, 16, 16) and y == 3 and x.sum() == 50


def test_aedat4_reader_returns_the_events_written(tmp_path):
    from spikefold.models.data.neuromorphic import read_aedat4_events

    t, x, y, on = [5, 7, 9], [1, 2, 127], [3, 4, 0], [1, 0, 1]
    write_aedat4(tmp_path / "a.aedat4", t, x, y, on)
    ev = read_aedat4_events(tmp_path / "a.aedat4")
    assert ev["t"].tolist() == t and ev["x"].tolist() == x and ev["y"].tolist() == y
    assert ev["on"].tolist() == [True, False, True]


def test_cifar10_dvs_damaged_file_names_it(tmp_path):
    from spikefold.models.data.neuromorphic import CIFAR10DVS

    (tmp_path / "CIFAR10DVS" / "cat").mkdir(parents=True)
    bad = tmp_path / "CIFAR10DVS" / "cat" / "x.aedat4"
    bad.write_bytes(b"not aedat")
    ds = CIFAR10DVS(tmp_path, True, 4)
    reason = "not a readable AEDAT" if find_spec("aedat") else "reading AEDAT 4.0 needs aedat, the optional `data` extra"
    with pytest.raises(DatasetNotFound, match=f"x.aedat4: {reason}"):
        ds[0]


# ---------------------------------------------------------------- DVS128 Gesture
def test_dvs_gesture_reads_tonic_layout(tmp_path):
    rng = np.random.default_rng(0)
    for split, users in (("ibmGestureTrain", [1, 2]), ("ibmGestureTest", [24])):
        for user in users:
            folder = tmp_path / "DVSGesture" / split / f"user{user:02d}_fluorescent"
            folder.mkdir(parents=True)
            for label in range(11):
                n = 40
                ev = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n),
                               rng.integers(0, 2, n), np.sort(rng.integers(0, 6000, n))], 1)
                np.save(folder / f"{label}.npy", ev.astype(np.float64))
    train = load_dataset("dvs-gesture", tmp_path, True, 8, 32)
    test = load_dataset("dvs-gesture", tmp_path, False, 8, 32)
    assert len(train) == 22 and len(test) == 11
    x, y = test[7]
    assert x.shape == (8, 2, 32, 32) and y == 7 and x.sum() == 40


def test_dvs_gesture_missing_directory_says_where(tmp_path):
    with pytest.raises(DatasetNotFound, match="ibmGestureTest.*tonic's layout"):
        load_dataset("dvs-gesture", tmp_path, False, 8)


# ---------------------------------------------------------------- ImageNet
def test_imagenet_reads_image_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            folder = tmp_path / split / wnid
            folder.mkdir(parents=True)
            for k in range(2):
                img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
                Image.fromarray(img).save(folder / f"{wnid}_{k}.JPEG", format="JPEG")
    train = load_dataset("imagenet", tmp_path, True, 4, 32)
    val = load_dataset("imagenet", tmp_path, False, 4, 32)
    assert len(train) == 4 and len(val) == 4
    x, y = val[3]
    assert x.shape == (3, 32, 32) and y == 1 and isinstance(x, torch.Tensor)


def test_imagenet_missing_directory_says_where(tmp_path):
    with pytest.raises(DatasetNotFound, match="val: ImageNet not found"):
        load_dataset("imagenet", tmp_path, False, 4)


def test_file_datasets_need_a_root():
    with pytest.raises(DatasetNotFound, match="--data-root"):
        load_dataset("cifar10", None, True, 4)
